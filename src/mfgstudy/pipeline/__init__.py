"""The workflow planner, imported by the Snakefile and its rules only (no other module of the
package imports it): from a config to the study's jobs, which files they write and the exact
parameters each receives (Snakemake ``params:``, so that changing a value reruns only what it
touches). Nothing is imported here: a rule file imports the pieces it uses.

The config, in the Snakefile's order:

* ``config_files``: a config file and the ones it extends, merged;
* ``names``: the names a config gives, checked before the schema (they become folders);
* ``validation``: the checks beyond the schema, one per config section (``check_config``);
* ``config_values``: values the schema admits but no job can use.

The jobs:

* ``paths``: where every file lives (one template each), logs, benchmarks, the claims files;
* ``targets``: which units, trained models, unit jobs and final targets a study has;
* ``compute``: each job's resources (GPUs, memory, runtime), device, threads and launcher;
* ``commands``: a job's ``--code`` hash and its path options, shell-quoted;
* ``specs_units``: the specs of a unit's jobs (data, train, unit, floors, references, collect);
* ``specs_closed_form``: the specs of the jobs that train no network (Theorems 2 and 4, the
  closed-form MFG equilibria, Proposition 6);
* ``specs_studies``: the specs of the companion studies, the readings table, the injection
  analog;
* ``specs_claims``: the claims ledger's files, spec and inputs.
"""
