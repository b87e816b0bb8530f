"""The ``crossbar`` command, and the Python of Crossbar's workers, with `sisock.numpy_abi` applied first.

`sisock.router.directory.prepare_cbdir` writes the executable `SCRIPT` into
the router directory, which runs `main`, and names it as the ``python``
option of every Crossbar worker there: Crossbar starts a worker as
``<python> -u -m crossbar.worker.main ...``. `sisock up` starts the router
itself as ``<router directory>/sisock-crossbar start --cbdir ...``. Either
way `sisock` is imported first, so no process of the router prints NumPy's
traceback about bjdata's extension (see `sisock.numpy_abi`), and every
worker signs WAMP-CRA challenges of named users with their stored salted
keys (`sisock.router.wampcra`); otherwise it behaves as ``python`` and
``crossbar`` do.
"""

import runpy
import sys

#: File name of the script in the router directory.
SCRIPT = "sisock-crossbar"
#: Its text: ``{python}`` is the absolute path of the Python that runs sisock and Crossbar.
SCRIPT_TEXT = "#!{python}\nimport sys\n\nfrom sisock.router.python import main\n\nsys.exit(main())\n"


def main(argv=None):
    """Run ``[-u] -m MODULE ARGS...`` as Python does, or else ``crossbar ARGS...``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int or None
        The exit status: the module's (0 if it returns), or Crossbar's.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["-u"]:  # Python's unbuffered output
        argv = argv[1:]
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(write_through=True)
    if argv[:1] == ["-m"] and len(argv) > 1:
        if argv[1].startswith("crossbar."):  # a worker: it may authenticate salted WAMP-CRA clients
            from sisock.router.wampcra import use_stored_keys

            use_stored_keys()
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    from crossbar import run

    sys.argv = ["crossbar", *argv]
    return run()
