"""One error type for everything a graph file or a builder can get wrong."""


class ValidationError(ValueError):
    """A graph is malformed. The message starts with the field path, e.g.
    ``couplings[1].weight: shape (3, 5) does not match dst 'h' size 4 × src 'x' size 5``."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)

    def under(self, prefix: str) -> "ValidationError":
        """The same error seen from an enclosing object (prefix the path)."""
        path = f"{prefix}.{self.path}" if self.path and not self.path.startswith("[") else f"{prefix}{self.path}"
        return ValidationError(path, self.reason)
