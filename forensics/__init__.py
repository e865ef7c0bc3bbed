"""forensics: what went wrong inside a Docker daemon, from its logs and goroutine dumps."""
__version__ = "0.1.0"
