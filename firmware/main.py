"""Node entry point: `micropython main.py CONFIG.json` (`ruong sim`, tests); on the board,
boot runs main.py and app.run(settings) takes over.

Kept tiny on purpose: this file is compiled from source at start, everything else is
imported as mpy-cross output (deploy.py on the host, flashed .mpy on the board), so the
compiler never holds more than this in a 64 kB heap. Exit status: see app.py.
"""

import sys

if sys.platform == "esp32":
    import hal_esp32

    hal_esp32.rain_wake()  # a rain tip before the cycle is due: counted, back to sleep
elif len(sys.argv) == 2:
    import deploy

    deploy.use_compiled(sys.argv)
    del sys.modules["deploy"]

import app

if __name__ == "__main__":
    sys.exit(app.main(sys.argv))
