"""The scheduling process: triggers editions on a clock (see ``python -m scheduler``)."""
