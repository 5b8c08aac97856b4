"""Deep copies of JSON values (dict, list, str, int, float, bool, None).

marshal round-trips exactly these types in C, about five times faster than
copy.deepcopy; with thousands of objects in the store that is the stand-in's
main cost.
"""
import marshal


def jcopy(value):
    return marshal.loads(marshal.dumps(value))
