"""Documents against a real server: create, get, set, update, delete, queries, counts, batches."""

from __future__ import annotations

import pytest

from basalt import AsyncClient, BasaltError, Document
from tests.aio.conftest import ClientFactory
from tests.helpers import unique


async def test_create_get_set_update_delete(async_user: AsyncClient) -> None:
    posts = async_user.collection("posts")
    doc = await posts.create({"title": "hi", "likes": 0, "tags": ["a"]})
    assert isinstance(doc, Document) and doc.version == 1 and doc.collection == "posts"
    assert (await posts.get(doc.id)).data == {"title": "hi", "likes": 0, "tags": ["a"]}
    up = await posts.update(
        doc.id,
        data={"title": "hello", "meta": {"x": 1}},
        increment={"likes": 2},
        array_union={"tags": ["b"]},
        server_time=["seen_at"],
        if_version=1,
    )
    assert up.version == 2 and up.data["title"] == "hello" and up.data["likes"] == 2
    assert up.data["tags"] == ["a", "b"] and isinstance(up.data["seen_at"], str)
    up = await posts.update(doc.id, array_remove={"tags": ["a"]}, data={"meta": {"x": None}})
    assert up.data["tags"] == ["b"] and up.data["meta"] == {}
    replaced = await posts.set(doc.id, {"only": True}, if_version=3)
    assert replaced.data == {"only": True} and replaced.version == 4
    await posts.delete(doc.id, if_version=4)
    with pytest.raises(BasaltError) as e:
        await posts.get(doc.id)
    assert e.value.status == 404 and e.value.code == "not_found" and e.value.request_id


async def test_create_with_id_and_conflicts(async_user: AsyncClient) -> None:
    posts = async_user.collection("posts")
    doc_id = unique("id")
    await posts.create({"n": 1}, id=doc_id)
    with pytest.raises(BasaltError) as e:
        await posts.create({"n": 2}, id=doc_id)
    assert e.value.status == 409 and e.value.code == "already_exists"
    with pytest.raises(BasaltError) as e:
        await posts.update(doc_id, data={"n": 3}, if_version=7)
    assert e.value.status == 412 and e.value.code == "failed_precondition"
    with pytest.raises(BasaltError) as e:
        await posts.set(doc_id, {"n": 3}, if_version=2)
    assert e.value.code == "failed_precondition"
    with pytest.raises(BasaltError) as e:
        await posts.delete(doc_id, if_version=9)
    assert e.value.code == "failed_precondition"
    created = await posts.set(unique("new"), {"n": 0})
    assert created.version == 1


async def test_ids_are_one_path_segment(async_user: AsyncClient) -> None:
    posts = async_user.collection("posts")
    with pytest.raises(BasaltError) as e:
        await posts.get("..")
    assert e.value.code == "invalid_argument" and e.value.status == 0
    with pytest.raises(BasaltError) as e:
        await posts.get("a/b")  # encoded: the server sees a bad id, not another route
    assert e.value.status in (400, 404)
    with pytest.raises(BasaltError) as e:
        await async_user.collection("Bad Name").create({"x": 1})
    assert e.value.status in (400, 404)


async def test_rules_and_schema(async_user: AsyncClient, async_clients: ClientFactory) -> None:
    uid = async_user.auth.user.id if async_user.auth.user else ""
    notes = async_user.collection("notes")
    mine = await notes.create({"owner": uid, "text": "mine"})
    with pytest.raises(BasaltError) as e:
        await notes.create({"owner": "someone-else", "text": "x"})
    assert e.value.status == 403 and e.value.code == "permission_denied"
    with pytest.raises(BasaltError) as e:
        await async_user.collection("locked").create({"x": 1})
    assert e.value.code == "permission_denied"
    with pytest.raises(BasaltError) as e:
        await async_clients().collection("posts").create({"x": 1})  # anonymous
    assert e.value.status in (401, 403)
    typed = async_user.collection("typed")
    with pytest.raises(BasaltError) as e:
        await typed.create({"n": "not a number"})
    assert e.value.status == 422 and e.value.code == "validation_failed" and e.value.details.get("errors")
    assert (await notes.get(mine.id)).data["text"] == "mine"


async def test_query_filters_order_select_and_paging(async_user: AsyncClient) -> None:
    posts = async_user.collection("posts")
    group = unique("g")
    for i in range(7):
        await posts.create({"group": group, "n": i, "city": "Oslo" if i % 2 else "Bergen", "info": {"k": i}})
    page = await posts.query(where=[("group", "==", group), ("n", ">=", 2)], order_by=[("n", "desc")], limit=3)
    assert [d.data["n"] for d in page.documents] == [6, 5, 4] and page.next_cursor
    page2 = await posts.query(
        where=[("group", "==", group), ("n", ">=", 2)], order_by=[("n", "desc")], limit=3, after=page.next_cursor
    )
    assert [d.data["n"] for d in page2.documents] == [3, 2]
    assert page2.next_cursor is None
    ors = await posts.query(
        where={"and": [["group", "==", group], {"or": [["n", "==", 0], ["n", "==", 6]]}]}, order_by="-n"
    )
    assert [d.data["n"] for d in ors.documents] == [6, 0]
    sel = await posts.query(where=["group", "==", group], order_by="n", select=["n"], limit=2)
    assert [d.data for d in sel.documents] == [{"n": 0}, {"n": 1}]
    got = [d.data["n"] async for d in posts.query_all(where=[("group", "==", group)], order_by="n", page_size=2)]
    assert got == list(range(7))
    assert await posts.count(where=[("group", "==", group), ("city", "==", "Oslo")]) == 3
    assert await posts.count(where=("info.k", "in", [1, 2, 99])) >= 2
    listed = await posts.list(limit=2)
    assert len(listed.documents) == 2 and listed.next_cursor
    with pytest.raises(BasaltError) as e:
        await posts.query(where=[("n", "~~", 1)])
    assert e.value.status == 400 and e.value.code == "invalid_argument"
    with pytest.raises(BasaltError) as e:
        await posts.query(limit=100000)
    assert e.value.code == "invalid_argument"


async def test_batch_all_or_nothing(async_user: AsyncClient) -> None:
    posts = async_user.collection("posts")
    keep = await posts.create({"n": 1})
    a, b = unique("a"), unique("b")
    results = await async_user.batch(
        [
            {"op": "create", "collection": "posts", "id": a, "data": {"n": 10}},
            {"op": "set", "collection": "posts", "id": b, "data": {"n": 20}},
            {"op": "update", "collection": "posts", "id": keep.id, "increment": {"n": 1}, "if_version": 1},
            {"op": "delete", "collection": "posts", "id": a},
        ]
    )
    assert len(results) == 4 and results[3] is None
    assert results[0] is not None and results[0].id == a
    assert results[2] is not None and results[2].data["n"] == 2
    with pytest.raises(BasaltError) as e:
        await async_user.batch(
            [
                {"op": "create", "collection": "posts", "id": unique("c"), "data": {"n": 1}},
                {"op": "update", "collection": "posts", "id": keep.id, "data": {"n": 0}, "if_version": 99},
            ]
        )
    assert e.value.status == 412 and e.value.details.get("index") == 1
    assert (await posts.get(keep.id)).data["n"] == 2
    with pytest.raises(BasaltError) as e:
        await async_user.batch([{"op": "create", "collection": "posts", "data": {}}] * 501)
    assert e.value.code == "invalid_argument"
    with pytest.raises(BasaltError) as e:
        await async_user.batch([{"op": "create", "collection": "posts", "datum": {}}])
    assert e.value.code == "invalid_argument" and e.value.status == 0


async def test_service_key_bypasses_rules(async_service: AsyncClient, async_user: AsyncClient) -> None:
    doc = await async_service.collection("locked").create({"secret": 1})
    assert (await async_service.collection("locked").get(doc.id)).data == {"secret": 1}
    with pytest.raises(BasaltError) as e:
        await async_user.collection("locked").get(doc.id)
    assert e.value.status in (403, 404)
    with pytest.raises(BasaltError) as e:
        await async_clients_bad_key(async_service)
    assert e.value.status == 401


async def async_clients_bad_key(c: AsyncClient) -> None:
    bad = AsyncClient(c.url, key="bsk_not_a_key")
    try:
        await bad.collection("posts").list()
    finally:
        await bad.aclose()


async def test_network_failure_is_basalt_error() -> None:
    c = AsyncClient("http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        with pytest.raises(BasaltError) as e:
            await c.collection("posts").get("x")
        assert e.value.code == "network" and e.value.status == 0
    finally:
        await c.aclose()
    with pytest.raises(BasaltError) as e:
        await c.collection("posts").get("x")
    assert e.value.code == "closed"
