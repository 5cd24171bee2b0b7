# Functions of this package run in the Python workers: a task there no longer re-reads every zip on sys.path.
from storage import zip_imports

zip_imports.install()
