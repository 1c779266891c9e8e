from .families.lse import attribution  # noqa: F401  (the O(N) influence function of log-sum-exp layers)
