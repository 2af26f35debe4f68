"""The reference's resize and conv_transpose as they were before the issue-15 rewrite for speed, kept
verbatim (with the ``_common`` they imported) as the oracle that tests/test_reference_fast.py holds the
rewrite equal to. Not collected by pytest (tests/conftest.py ``collect_ignore``); loaded by path.

Example:
    >>> import importlib  # loaded through tests/test_reference_fast.py's ``_load_slow()``
"""
