"""The persistent request cache keeps to its size: least recently used entries go first."""
from __future__ import annotations

import os

from nodes import request_cache
from nodes.request_cache import RequestCache, request_key


def keys(n: int) -> list[str]:
    return [request_key("create_prompt", "scope", {"seed": str(i)}, {}) for i in range(n)]


def age(cache: RequestCache, key: str, seconds: int) -> None:
    os.utime(cache._path(key), ns=(seconds * 10**9, seconds * 10**9))


def test_entries_beyond_the_cap_go_least_recently_used_first(tmp_path):
    request_cache.ENTRIES.forget()
    cache = RequestCache(tmp_path, max_entries=3)
    k = keys(5)
    for i in range(3):
        cache.put(k[i], {"prompt_id": f"p{i}"})
        age(cache, k[i], 1000 + i)           # 0 is the oldest write
    assert cache.get(k[0])["prompt_id"] == "p0"   # a hit: now the most recently used
    cache.put(k[3], {"prompt_id": "p3"})         # one too many: k[1] is the least recently used
    assert cache.get(k[1]) is None
    assert [cache.get(x)["prompt_id"] for x in (k[0], k[2], k[3])] == ["p0", "p2", "p3"]
    cache.put(k[3], {"prompt_id": "p3", "medias": []})   # rewriting an entry adds none
    assert cache.get(k[2]) is not None and len(list(tmp_path.glob("cache/*/*.json"))) == 3


def test_the_count_is_taken_again_by_a_new_process(tmp_path):
    request_cache.ENTRIES.forget()
    k = keys(4)
    big = RequestCache(tmp_path)
    for x in k[:3]:
        big.put(x, {"prompt_id": x})
    for i, x in enumerate(k[:3]):
        age(big, x, 1000 + i)
    request_cache.ENTRIES.forget()              # a restart: nothing counted yet
    small = RequestCache(tmp_path, max_entries=2)
    small.put(k[3], {"prompt_id": "new"})
    assert len(list(tmp_path.glob("cache/*/*.json"))) == 2
    assert small.get(k[3])["prompt_id"] == "new" and small.get(k[2]) is not None and small.get(k[0]) is None
    small.forget(k[3])
    assert request_cache.ENTRIES.total(small.dir) == 1 and small.get(k[3]) is None
    request_cache.ENTRIES.forget()
