"""How a unit's results are laid out inside its sample and metrics folders: a folder per
perturbation size eps, and in it one store per perturbation kind and number of steps N. Shared
by the planner and the jobs, so it imports nothing."""

UNPERTURBED = "none"  # the perturbation kind of eps = 0, reserved


def store_name(perturbation: str, steps: int) -> str:
    """A unit's store of one perturbation kind and N, inside its sample or metrics directory."""
    return f"{perturbation}/N{steps}.zarr"


def value_dir(eps_label: str) -> str:
    """The folder of one perturbation size inside a unit's folder: "eps0", "eps0.05"."""
    return f"eps{eps_label}"
