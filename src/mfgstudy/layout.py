"""How a unit's results are laid out inside its sample and metrics folders: one store per
perturbation kind and number of steps N. Shared by the planner and the jobs, so it imports
nothing."""

UNPERTURBED = "none"  # the perturbation kind of eps = 0, reserved


def store_name(perturbation: str, steps: int) -> str:
    """A unit's store of one perturbation kind and N, inside its sample or metrics directory."""
    return f"{perturbation}/N{steps}.zarr"
