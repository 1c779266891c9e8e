"""Ways to reach an emulated board: the in-process ``emu://`` pyserial URL handler
(``protocol_emu``), a pseudo-terminal and a TCP socket served by a background thread."""
