"""Fixed-point log-mel frontend: integer tables derived from the float definitions
(``tables``), the numpy twin of the C code (``fixed``), the renderer of the generated
C tables (``render``), the C code run on the host (``host``) and on an emulated
Cortex-M4 (``m4sim``), and test signals (``signals``)."""
