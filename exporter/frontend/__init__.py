"""Fixed-point log-mel frontend: integer tables (``tables``), the numpy twin of the
C code (``fixed``) and the renderer of the generated C tables (``render``)."""
