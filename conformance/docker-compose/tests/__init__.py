import unittest  # NOQA
from unittest import mock  # NOQA
