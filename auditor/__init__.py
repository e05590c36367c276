"""netaudit: audit the effective network policy of a Kubernetes cluster."""

__version__ = "0.1.0"
