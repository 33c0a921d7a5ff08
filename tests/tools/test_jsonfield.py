"""Tests of jsonfield.py: the field of the last JSON line."""
import unittest

import jsonfield


class TestJsonField(unittest.TestCase):
    def test_last_line(self):
        self.assertEqual(jsonfield.field('{"a": 1}\n{"a": 2, "b": [3, 4]}\n\n', "a"), 2)
        self.assertEqual(jsonfield.field('{"b": [3, 4]}', "b", 1), 4)

    def test_missing(self):
        with self.assertRaises(KeyError):
            jsonfield.field('{"a": 1}', "b")
        with self.assertRaises(ValueError):
            jsonfield.field("", "a")


if __name__ == "__main__":
    unittest.main()
