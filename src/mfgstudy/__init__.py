"""mfgstudy: re-run the MFG-Diffusion study and its companion-paper experiments, claim by claim."""

__version__ = "0.1.0"
