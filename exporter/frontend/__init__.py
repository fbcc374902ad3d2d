"""Fixed-point log-mel frontend: integer tables derived from the float definitions
(``tables``), the numpy twin of the C code (``fixed``), the renderer of the generated
C tables (``render``), the C code run on the host (``host``) and on an emulated
Cortex-M4 (``m4sim``), and test signals (``signals``). The microphone's PDM -> PCM
decimator, the step before it on the boards with a PDM microphone: its numpy twin (``pdm``)
and its cost on a Cortex-M4 (``pdm_m4``)."""
