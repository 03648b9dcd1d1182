"""Customer-base models: one model per file, a shared maximum-likelihood base class."""
