"""The review page: curators accept or reject machine suggestions, one by one or in bulk.

Who may review: whoever holds ``MOUSEION_REVIEW_TOKEN`` (or, when it is empty, ``MOUSEION_UPDATE_TOKEN``).
A browser signs in once with the token and a name (a signed, HttpOnly, SameSite=Strict cookie holds
the name and a CSRF token; every form carries that token back). A script sends
``Authorization: Bearer TOKEN`` and a ``by`` field instead; with no cookie involved it needs no CSRF token.
Each decision records who and when (``mou:reviewedBy``, ``mou:reviewedAt``) in the run graph.

Routes (all in web/app.py's ROUTES): ``GET /-/review`` (the page, filtered by run, job, property,
subject, state and confidence), ``POST /-/review/login``, ``POST /-/review/logout``,
``POST /-/review/decide``, ``GET /-/review/image?object=IRI`` (a small JPEG of the object's image, read
with the enrichment guards).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from urllib.parse import urlencode

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from kg.errors import MouseionError, NotFound
from enrichment.runs import STATES, find_suggestions, label_of, review

COOKIE = "mouseion_review"
SESSION_SECONDS = 12 * 3600
PAGE_SIZE = 100
THUMBNAIL = 256


def _store():
    return current_app.extensions["mouseion.store"]


def _settings():
    return current_app.extensions["mouseion.settings"]


def _token() -> str:
    settings = _settings()
    return settings.review_token or settings.update_token


def _serializer() -> URLSafeTimedSerializer:
    # the signing key follows the token: changing the token signs everybody out
    secret = hashlib.sha256(b"mouseion-review\0" + _token().encode()).hexdigest()
    return URLSafeTimedSerializer(secret, salt="review-session")


def _session() -> dict | None:
    raw = request.cookies.get(COOKIE)
    if not raw or not _token():
        return None
    try:
        return _serializer().loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None


def _bearer_ok() -> bool:
    header = request.headers.get("Authorization", "")
    token = _token()
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token)


def _filters() -> dict:
    args = request.values
    state = args.get("state") or "pending"
    if state not in STATES and state != "any":
        abort(400, f"state must be one of {', '.join(STATES)} or any")

    def number(name):
        value = args.get(name)
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            abort(400, f"{name}={value!r} is not a number")

    return {"run": args.get("run") or None, "job": args.get("job") or None,
            "property": args.get("property") or None, "subject": args.get("subject") or None,
            "state": state, "min_confidence": number("min_confidence"), "max_confidence": number("max_confidence")}


def _query(filters: dict, limit: int | None):
    selection = dict(filters)
    selection["state"] = None if filters["state"] == "any" else filters["state"]
    return find_suggestions(_store(), **selection, limit=limit)


def review_page():
    session = _session()
    if session is None:
        return render_template("review_login.html", configured=bool(_token()),
                               next=request.full_path), 401
    filters = _filters()
    rows = _query(filters, PAGE_SIZE + 1)
    store = _store()
    labels: dict[str, str | None] = {}

    def label(iri: str) -> str:
        if iri not in labels:
            labels[iri] = label_of(store, iri)
        return labels[iri] or iri

    from enrichment.clip_tagging import image_iris
    images: dict[str, str | None] = {}

    def image(iri: str) -> str | None:
        # a web image is shown from where it lives; a local file through the guarded thumbnail route
        if iri not in images:
            found = image_iris(store, iri)
            images[iri] = None if not found else found[0] if found[0].startswith(("http://", "https://")) \
                else url_for("review_image", object=iri)
        return images[iri]

    items = [{"row": r, "subject_label": label(r.subject), "property_label": r.property.rsplit("/", 1)[-1],
              "value_label": label(r.value.value) if hasattr(r.value, "value") else str(r.value),
              "image": image(r.subject)} for r in rows[:PAGE_SIZE]]
    return render_template("review.html", items=items, more=len(rows) > PAGE_SIZE,
                           filters=filters, who=session["who"], csrf=session["csrf"], states=STATES,
                           query=urlencode({k: v for k, v in filters.items() if v is not None}))


def login():
    token = _token()
    given = request.form.get("token", "")
    who = (request.form.get("who") or "").strip()
    target = request.form.get("next") or url_for("review_page")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("review_page")
    if not token or not hmac.compare_digest(given, token) or not who:
        return render_template("review_login.html", configured=bool(token), next=target,
                               error="Wrong token, or no name given."), 403
    response = redirect(target, code=303)
    value = _serializer().dumps({"who": who[:200], "csrf": secrets.token_urlsafe(24)})
    response.set_cookie(COOKIE, value, max_age=SESSION_SECONDS, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/-/review")
    return response


def logout():
    session = _session()
    if session is None or not hmac.compare_digest(request.form.get("csrf", ""), session["csrf"]):
        abort(403, "not signed in, or the form is stale")
    response = redirect(url_for("review_page"), code=303)
    response.delete_cookie(COOKIE, path="/-/review")
    return response


def decide():
    """Apply one decision to the checked suggestions, or (``scope=all``) to every suggestion the filters
    select. The browser is sent back to the page it came from (303)."""
    session = _session()
    if session is not None:
        if not hmac.compare_digest(request.form.get("csrf", ""), session["csrf"]):
            abort(403, "the form's CSRF token does not match this session: reload the page")
        who = session["who"]
    elif _bearer_ok():
        who = (request.form.get("by") or "").strip() or "bearer-token holder"
    else:
        abort(401, "sign in on /-/review, or send Authorization: Bearer <review token>")
    decision = {"accept": "accepted", "reject": "rejected", "reset": "pending"}.get(request.form.get("decision", ""))
    if decision is None:
        abort(400, "decision must be accept, reject or reset")
    if request.form.get("scope") == "all":
        filters = _filters()
        chosen = [r.assignment for r in _query(filters, None)]
    else:
        chosen = request.form.getlist("assignment")
        if not chosen:
            abort(400, "no suggestion chosen: tick some, or choose all that match")
    try:
        outcome = review(_store(), chosen, decision, who=who, note=request.form.get("note") or None)
    except NotFound as error:
        abort(404, str(error))
    except MouseionError as error:
        abort(400, str(error))
    if session is None:
        return {"changed": outcome.changed, "unchanged": outcome.unchanged, "runs": list(outcome.runs),
                "decision": decision, "by": who}
    back = request.form.get("back") or url_for("review_page")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("review_page")
    return redirect(back, code=303)


def review_image():
    """A thumbnail of an object's image, for reviewers (local files are never served otherwise)."""
    if _session() is None and not _bearer_ok():
        abort(401)
    from enrichment.clip_tagging import open_object_image
    from enrichment.images import ImageError, ImageReader
    obj = request.args.get("object", "")
    if not obj:
        abort(400, "object=IRI is required")
    try:
        image = open_object_image(_store(), ImageReader.from_settings(_settings()), obj, THUMBNAIL)
    except ImageError as error:
        abort(404, str(error))
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return Response(out.getvalue(), mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=300"})
