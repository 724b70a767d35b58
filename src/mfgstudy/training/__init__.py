"""Training: the loop shared by every method trained by its loss (``loop``), MFG-Diffusion's
Algorithm 1 (``algorithm1``), resumable checkpoints (``checkpoint``), data-parallel runs
(``distributed``) and what the loops share (``shared``).

Class-conditional networks (``mfgstudy.nets.is_conditional``) train on labels aligned with the
rows of ``x_train``: each batch's labels, after classifier-free label dropout (probability
``label_dropout`` of the training spec, default 0, of replacing a label by the null class), are
bound to the network (``mfgstudy.nets.Conditioned``) for ``method.loss``. Every method's loss
feeds the network its batch rows in order (DDPM, EDM, HJB-SGM; Flow Matching's minibatch OT
permutes the noise z, never x0), so row i of the network input is data row i and has its label.

Device. Training runs on ``Runtime.device`` (the job's ``mfgstudy.device.current()``): the
network, its EMA copy and every batch live there; the training set stays on the CPU and each
batch is moved. Random draws come from CPU generators (``gen``) and are moved to the device, so
a seed gives the same numbers on every device up to floating point. What leaves the job (model,
log, checkpoints) is on the CPU.

Checkpoints and walltime (``Checkpointer``). Given a checkpoint directory, the trainer writes
``checkpoint.pt`` there every ``every`` steps (default 1000; MFG-Diffusion's Algorithm 1 counts
outer iterations, default 1), atomically (a temporary file, fsync, ``os.replace``), loadable with
``torch.load(weights_only=True)``. It holds all that a bit-identical continuation on the CPU needs:
the step, network, EMA, optimiser and scheduler states, the CPU generators' states (the shared
``gen`` and, under torch.distributed, every rank's noise generator), torch's global CPU generator
(network initialisation, ``diffops.divergence``'s probes, MFG's terminal draws; all ranks draw the
same there), the log rows and the current log window, and the training wall time so far. A rerun of
the same job resumes from it; a checkpoint written for another spec, seed, training code
(``pipeline.commands.code_hash("train")``: what makes Snakemake rerun the job) or number of
processes, or one that does not load as a torch file (truncated, damaged), is never deleted: it is
moved aside (``checkpoint.pt.mismatch-<UTC time>``, ``checkpoint.pt.corrupt-<UTC time>`` in the
same folder), the log names where and why (the keys that differ), and the run starts fresh. An
error that may pass (an I/O error, MemoryError, an interrupt) leaves the checkpoint where it is and
fails the job, naming it. Train-spec keys that change no number (``COSMETIC_TRAIN_KEYS``: the log
cadence) are not part of the key: a checkpoint differing only there is resumed. Given a walltime,
the trainer stops once the job's elapsed time plus the margin plus its longest step (or outer
iteration) so far would pass it: it writes a checkpoint, logs "stopping before the walltime; rerun
to continue from step k" and exits with ``EXIT_WALLTIME`` (75, EX_TEMPFAIL); the rerun continues.
The job removes the checkpoint once its outputs are written and synced to disk.

The model (``model.pt``) records what it was trained for: the train spec (``spec``), the seed and
the data store's ``config_hash`` (``data``); ``mfgstudy.models.load_net`` compares them with
the job that loads it (``check_model``) and refuses another job's model.

Several processes (torchrun sets WORLD_SIZE > 1): data parallel training, one process per device
(``cuda:LOCAL_RANK`` and NCCL on GPUs, gloo on CPUs). ``batch_size`` is the global batch; it
must divide by the number of processes. Every rank draws the same global batch (indices and label
dropout) from the shared-seed ``gen`` and takes its contiguous slice, so the global batch equals
the single-process one; the loss noise (times, z, probes) is drawn per rank from a generator
seeded by ``(seed, rank)``, so a multi-process run matches a single-process one in distribution,
not draw for draw. Gradients are averaged over ranks by DistributedDataParallel, or, for a loss
that differentiates the network with ``torch.func`` transforms (HJB-SGM: ``functional_loss``),
which a DDP forward does not support, by an explicit all-reduce after the backward pass (the
same average). The logged loss terms are the means over ranks (all-reduced every step). Only
rank 0 writes checkpoints, the model and the log.
"""
