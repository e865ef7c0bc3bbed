"""forensics: what went wrong inside a Docker daemon, from its logs and goroutine dumps."""

__version__ = "0.1.0"


def data_dir(name: str):
    """The package's own ``rules`` or ``templates`` folder: inside the installed package, or at the
    top of a checkout."""
    from importlib import resources
    from pathlib import Path

    installed = resources.files(__name__) / name
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parent.parent / name
