"""The client against the simulator: auth, validation before sending, upload, jobs followed over
the websocket and by polling, downloads of signed URLs, typed errors, safe retries."""
from __future__ import annotations

import io

import pytest
from support import assert_injected, wait_for

from nodes.client import AliveAIClient, Completed, Failed, Queued, Running
from nodes.client.config import resolve
from nodes.errors import (ApiError, AuthError, DownloadError, JobFailedError, NetworkError, RateLimitError,
                          SubmitUncertainError, ValidationError)
from nodes.simulator import DEFAULT_API_KEY

IMAGE_REQ = {"name": "Ada Lovelace", "appearance": "a mathematician at her desk", "detailLevel": "MEDIUM",
             "aspectRatio": "SQUARE", "seed": "42"}


def png_size(blob: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as im:
        return im.size


def creates(sim) -> int:
    return sum(sim.state.counters.creates.values())


def hanging(sim, jobs: int) -> None:
    """Wait until `job_hang` really holds a job: the simulator read it more often than `jobs` jobs
    reaching their last step would (once each, had it let them through)."""
    wait_for(lambda: sim.state.faults.count("job_hang") > jobs)


def test_api_key_auth_and_me_without_the_key(client, sim):
    me = client.me()
    assert me["email"] and "credits" in me
    assert "apiKey" not in me
    entry = sim.state.log[-1]
    assert entry.headers.get("Authorization", "").startswith("Key ***")  # the simulator redacts its log too


def test_wrong_key_is_a_clear_auth_error_without_the_key(sim):
    bad = resolve(env={"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_API_KEY": "Key wrong-secret-123"})
    assert bad.api_key == "wrong-secret-123"  # a pasted "Key " prefix is stripped
    with AliveAIClient(bad) as c, pytest.raises(AuthError) as e:
        c.me()
    assert "401" in str(e.value) and "wrong-secret-123" not in str(e.value)
    assert str(e.value).startswith("Me: ")


def test_login_bearer_and_one_renewal_after_401(sim):
    from nodes.simulator.state import DEFAULT_EMAIL, DEFAULT_PASSWORD

    s = resolve(env={"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_EMAIL": DEFAULT_EMAIL,
                     "ALIVEAI_PASSWORD": DEFAULT_PASSWORD})
    with AliveAIClient(s) as c:
        assert c.me()["email"] == DEFAULT_EMAIL
        assert sim.state.counters.logins == 1
        assert any(e.headers.get("Authorization", "").startswith("Bearer") for e in sim.state.log)
        sim.state.expire_tokens()
        assert c.me()["email"] == DEFAULT_EMAIL  # 401 -> log in again once -> retried once
        assert sim.state.counters.logins == 2


def test_bad_password_fails_at_login(sim):
    from nodes.simulator.state import DEFAULT_EMAIL

    s = resolve(env={"ALIVEAI_BASE_URL": sim.base_url, "ALIVEAI_EMAIL": DEFAULT_EMAIL,
                     "ALIVEAI_PASSWORD": "not-the-password"})
    with AliveAIClient(s) as c, pytest.raises(AuthError) as e:
        c.me()
    assert "not-the-password" not in str(e.value)


def test_validation_happens_before_any_request(client, sim):
    before = len(sim.state.log)
    with pytest.raises(ValidationError) as e:
        client.submit("create_prompt", {**IMAGE_REQ, "name": "x" * 201})
    assert e.value.field == "name" and "200" in str(e.value)
    with pytest.raises(ValidationError):
        client.call("get_prompts", page=-1)
    assert len(sim.state.log) == before
    assert creates(sim) == 0


def test_upload_returns_media_id_and_type(client, sim):
    from nodes.simulator.synth import make_png

    media_id, media_type = client.upload(make_png(64, 48, "1", "up"), "a.png")
    assert media_id and media_type == "IMAGE"
    assert sim.state.counters.uploads == 1
    entry = sim.state.requests_for("upload_file")[-1]
    assert sorted(entry.parts) == ["image", "name"]


def test_job_over_websocket_to_completion_and_download(client, sim, tmp_path):
    job = client.submit("create_prompt", IMAGE_REQ)
    events = list(job.events())
    assert isinstance(events[-1], Completed)
    assert any(isinstance(e, Running) for e in events)
    assert job.mode == "websocket"
    assert sim.state.counters.ws_connections >= 1
    done = events[-1]
    assert [m.type for m in done.medias] == ["IMAGE"]
    path = client.download(done.medias[0].url, tmp_path / "r.png", prompt_id=job.prompt_id,
                           media_id=done.medias[0].id)
    assert png_size(path.read_bytes()) == (512, 512)
    body = sim.state.requests_for("create_prompt")[-1].body
    assert body == IMAGE_REQ  # exactly the fields given, no nulls or empties


def test_queue_positions_are_reported(client, sim):
    jobs = [client.submit("create_prompt", {**IMAGE_REQ, "seed": str(i)}) for i in range(4)]
    last = list(jobs[-1].events())
    assert any(isinstance(e, Queued) and e.position >= 1 for e in last)
    assert isinstance(last[-1], Completed)
    for j in jobs[:-1]:
        assert isinstance(j.result(), Completed)


def test_image_to_video_completes_only_with_the_video(client, sim):
    img = client.submit("create_prompt", IMAGE_REQ).result()
    job = client.submit("create_image_to_video", videoModel="DEFAULT", mediaId=img.medias[0].id, text="she smiles")
    done = job.result()
    assert [m.type for m in done.medias] == ["VIDEO"]
    assert [m.type for m in done.all_medias] == ["IMAGE", "VIDEO"]  # the source image is listed first


def test_polling_fallback_when_the_socket_is_refused(client, sim):
    sim.state.faults.set("ws_refuse", True)
    job = client.submit("create_prompt", IMAGE_REQ)
    assert isinstance(job.result(), Completed)
    assert job.mode == "polling"
    assert sim.state.counters.ws_connections == 0
    assert_injected(sim, "ws_refuse")


def test_socket_dropped_mid_job_still_completes(client, sim):
    sim.state.faults.set("ws_drop", True)
    job = client.submit("create_prompt", IMAGE_REQ)
    done = job.result()
    assert isinstance(done, Completed) and done.medias
    assert_injected(sim, "ws_drop")
    assert sim.state.counters.ws_connections >= 2, "the dropped socket was not reopened"


def test_job_error_is_typed_and_names_the_prompt(client, sim):
    sim.state.faults.set("job_error", True)
    job = client.submit("create_prompt", IMAGE_REQ)
    events = list(job.events())
    assert isinstance(events[-1], Failed)
    err = events[-1].error
    assert isinstance(err, JobFailedError)
    assert "GPU out of memory" in str(err) and job.prompt_id in str(err)
    assert str(err).startswith("Create Prompt: ")
    with pytest.raises(JobFailedError):
        job.result()
    assert_injected(sim, "job_error")


def test_expired_url_is_refreshed_from_get_prompt(client, sim, tmp_path):
    job = client.submit("create_prompt", IMAGE_REQ)
    m = job.result().medias[0]
    reads = len(sim.state.requests_for("get_prompt"))
    sim.state.advance(sim.state.config.url_ttl + 60)  # the URL we hold has expired
    path = client.download(m.url, tmp_path / "x.png", prompt_id=job.prompt_id, media_id=m.id)
    assert path.stat().st_size > 0
    assert len(sim.state.requests_for("get_prompt")) == reads + 1


def test_never_fresh_url_gives_a_download_error_with_prompt_id(client, sim, tmp_path):
    job = client.submit("create_prompt", IMAGE_REQ)
    done = job.result()
    sim.state.faults.set("url_expired", True)
    m = done.medias[0]
    sim.state.advance(sim.state.config.url_ttl + 60)
    with pytest.raises(DownloadError) as e:
        client.download(m.url, tmp_path / "x.png", prompt_id=job.prompt_id, media_id=m.id)
    assert job.prompt_id in str(e.value) and "Load Result" in str(e.value)
    assert_injected(sim, "url_expired")


def test_altered_query_string_is_refused_by_the_signed_url(client, sim, tmp_path):
    done = client.submit("create_prompt", IMAGE_REQ).result()
    url = done.medias[0].url
    tampered = url.replace("X-Amz-Expires=", "X-Amz-Expires=9")
    with pytest.raises(DownloadError):
        client.download(tampered, tmp_path / "t.png")
    assert client.download(url, tmp_path / "ok.png").stat().st_size > 0


def test_gets_are_retried_on_500_but_not_forever(client, sim):
    sim.state.faults.set("http_500", 2)
    assert isinstance(client.pending(), list)
    assert_injected(sim, "http_500")
    assert [e.status for e in sim.state.requests_for("get_pending")] == [500, 500, 200]
    sim.state.faults.set("http_500", 50)
    with pytest.raises(ApiError) as e:
        client.pending()
    assert "500" in str(e.value)


def test_create_waits_out_429_and_is_sent_once_more_only_then(client, sim):
    sim.state.faults.set("http_429", 1)
    job = client.submit("create_prompt", IMAGE_REQ)
    assert isinstance(job.result(), Completed)
    assert creates(sim) == 1
    assert_injected(sim, "http_429")
    assert [e.status for e in sim.state.requests_for("create_prompt")] == [429, 200]   # refused, then sent once


def test_queue_full_is_a_rate_limit_error_when_it_does_not_clear(client, sim):
    sim.state.faults.set("job_hang", True)
    for i in range(sim.state.config.max_pending):
        client.submit("create_prompt", {**IMAGE_REQ, "seed": str(100 + i)})
    hanging(sim, sim.state.config.max_pending)     # the queue stays full: no job can end
    with pytest.raises(RateLimitError) as e:
        client.submit("create_prompt", IMAGE_REQ, queue_full_wait=0)
    assert e.value.queue_full
    assert creates(sim) == sim.state.config.max_pending
    assert_injected(sim, "job_hang")
    assert sim.state.pending_count(sim.state.default_user) == sim.state.config.max_pending


def test_lost_create_answer_is_found_not_resent(sim, settings, monkeypatch):
    with AliveAIClient(settings, backoff_factor=0.01) as c:
        real = c.transport.request

        def answer_lost(method, path, **kw):
            out = real(method, path, **kw)  # the create reaches AliveAI...
            if method == "POST" and path == "/prompts":
                raise NetworkError("connection reset after sending", sent=True)  # ...but its answer is lost
            return out
        monkeypatch.setattr(c.transport, "request", answer_lost)
        job = c.submit("create_prompt", IMAGE_REQ)
        assert job.prompt_id == next(iter(sim.state.jobs))
        assert creates(sim) == 1
        assert isinstance(job.result(), Completed)


def test_lost_create_without_a_match_is_not_resent(sim, settings, monkeypatch):
    with AliveAIClient(settings, backoff_factor=0.01) as c:
        def lost(*a, **k):
            raise NetworkError("connection reset", sent=True)
        real = c.transport.request

        def flaky(method, path, **kw):
            if method == "POST" and path == "/prompts":
                return lost()
            return real(method, path, **kw)
        monkeypatch.setattr(c.transport, "request", flaky)
        with pytest.raises(SubmitUncertainError) as e:
            c.submit("create_prompt", IMAGE_REQ)
        assert "NOT re-sent" in str(e.value)
    assert creates(sim) == 0


def test_cancel_removes_a_queued_job(client, sim):
    sim.state.faults.set("job_hang", True)
    running = [client.submit("create_prompt", {**IMAGE_REQ, "seed": str(i)}) for i in range(3)]
    hanging(sim, 3)                                # the workers are held: the last job stays queued
    assert_injected(sim, "job_hang")
    queued = running[-1]
    assert client.pending_item(queued.prompt_id)["queuePosition"] >= 1
    assert queued.cancel() == "removed"
    assert client.pending_item(queued.prompt_id) is None
    assert running[0].cancel() == "running"


def test_get_prompt_of_unknown_id_is_not_found(client):
    from nodes.errors import NotFoundError

    with pytest.raises(NotFoundError) as e:
        client.get_prompt("does-not-exist")
    assert "does-not-exist" in str(e.value)


def test_llm_helpers_return_text(client):
    text = client.text("generate_prompt", model="DEFAULT", inputPrompt="a cat on a roof")
    assert isinstance(text, str) and text
    pos, neg = client.text("generate_video_prompt", model="DEFAULT", userInput="she walks to the sea")
    assert pos and isinstance(neg, str)


def test_settings_never_show_secrets():
    s = resolve(env={"ALIVEAI_API_KEY": "supersecretkey123"})
    assert "supersecretkey123" not in repr(s)
    from nodes.redact import redact

    assert "supersecretkey123" not in redact("Authorization: Key supersecretkey123")
    assert DEFAULT_API_KEY
