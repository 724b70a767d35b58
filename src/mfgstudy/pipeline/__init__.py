"""The workflow planner, imported by the Snakefile only (no module of the package imports it): from
a config to the study's jobs. It imports nothing here, so that importing one piece imports no
other; the pieces:

* ``config_files``: a config file and the ones it extends, merged (the Snakefile's first step);
* ``config_values``: values the schema admits but no job can use.
* ``names``: the names a config gives, checked before the schema;
* ``validation``: the checks beyond the schema, one per config section (``check_config``);
* ``paths``: where every file lives (one template each), logs, benchmarks, the claims files;
* ``commands``: a job's ``--code`` hash and its path options, shell-quoted;
* ``targets``: which units, models, unit jobs and final targets a study has;
* ``compute``: each job's resources (GPUs, memory, runtime), device, threads and launcher;
* ``specs_units``: the specs of a unit's jobs (data, train, unit, floors, references);
* ``specs_closed_form``: the specs of the jobs that train no network (Theorems 2 and 4, the
  closed-form MFG equilibria, Proposition 6);
* ``specs_studies``: the specs of the companion studies, the readings table, the injection
  analog;
* ``specs_claims``: the claims ledger's files, spec and inputs;
"""
