"""Discord's payload limits, reported as 400 / 50035 with an `errors` tree like the real API."""

from __future__ import annotations

from typing import Any

from .state import ApiError, field_error, invalid_form

AUTO_ARCHIVE = {60, 1440, 4320, 10080}


def _len_err(
    errors: dict[str, Any], path: list[str | int], value: Any, maximum: int, minimum: int = 0
) -> None:
    if value is None:
        return
    n = len(str(value))
    if n > maximum or n < minimum:
        node = errors
        for p in path[:-1]:
            node = node.setdefault(str(p), {})
        node[str(path[-1])] = field_error(
            "BASE_TYPE_BAD_LENGTH", f"Must be between {minimum} and {maximum} in length."
        )


def embed_errors(embeds: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if len(embeds) > 10:
        errors["embeds"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        return errors
    total = 0
    for i, e in enumerate(embeds):
        p: list[str | int] = ["embeds", i]
        _len_err(errors, [*p, "title"], e.get("title"), 256)
        _len_err(errors, [*p, "description"], e.get("description"), 4096)
        footer, author = e.get("footer") or {}, e.get("author") or {}
        _len_err(errors, [*p, "footer", "text"], footer.get("text"), 2048)
        _len_err(errors, [*p, "author", "name"], author.get("name"), 256)
        fields = e.get("fields") or []
        if len(fields) > 25:
            errors.setdefault("embeds", {}).setdefault(str(i), {})["fields"] = field_error(
                "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        for j, f in enumerate(fields):
            _len_err(errors, [*p, "fields", j, "name"], f.get("name"), 256, 1)
            _len_err(errors, [*p, "fields", j, "value"], f.get("value"), 1024, 1)
            total += len(str(f.get("name", ""))) + len(str(f.get("value", "")))
        total += sum(
            len(str(x or ""))
            for x in (e.get("title"), e.get("description"), footer.get("text"), author.get("name"))
        )
    if total > 6000 and "embeds" not in errors:
        errors["embeds"] = field_error("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    return errors


def walk_components(components: list[dict[str, Any]]):
    for c in components or []:
        yield c
        if "components" in c:
            yield from walk_components(c["components"])
        if "component" in c:
            yield from walk_components([c["component"]])
        if "accessory" in c:
            yield from walk_components([c["accessory"]])


def component_errors(components: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if len(components or []) > 40:
        errors["components"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
    for c in walk_components(components):
        cid = c.get("custom_id")
        if cid is not None and not 1 <= len(cid) <= 100:
            errors["components"] = field_error(
                "BASE_TYPE_BAD_LENGTH", "custom_id must be between 1 and 100 in length."
            )
        if c.get("type") == 1 and len(c.get("components", [])) > 5:
            errors["components"] = field_error(
                "BASE_TYPE_MAX_LENGTH", "An action row holds at most 5 components."
            )
    return errors


def check_message(payload: dict[str, Any], *, has_files: bool = False, edit: bool = False) -> None:
    """Raise the ApiError Discord would for this message create/edit payload."""
    errors: dict[str, Any] = {}
    content = payload.get("content")
    if content is not None and len(str(content)) > 2000:
        _len_err(errors, ["content"], content, 2000)
    embeds = payload.get("embeds") or []
    if payload.get("embed"):
        embeds = [*embeds, payload["embed"]]
    errors.update(embed_errors(embeds))
    errors.update(component_errors(payload.get("components") or []))
    if int(payload.get("flags") or 0) & (1 << 15) and (content or embeds):
        errors["content"] = field_error(
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > 25:
        errors["nonce"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be 25 or fewer in length.")
    if errors:
        raise invalid_form(errors)
    if not edit:
        empty = (
            not content
            and not embeds
            and not payload.get("components")
            and not payload.get("sticker_ids")
            and not has_files
            and not payload.get("poll")
        )
        if empty:
            raise ApiError(400, 50006, "Cannot send an empty message")


def check_thread(payload: dict[str, Any]) -> None:
    errors: dict[str, Any] = {}
    name = payload.get("name")
    if name is None or not 1 <= len(str(name)) <= 100:
        errors["name"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    aad = payload.get("auto_archive_duration")
    if aad is not None and aad not in AUTO_ARCHIVE:
        errors["auto_archive_duration"] = field_error(
            "BASE_TYPE_CHOICES", f"Value must be one of {sorted(AUTO_ARCHIVE)}."
        )
    if errors:
        raise invalid_form(errors)


def check_modal(data: dict[str, Any]) -> None:
    errors: dict[str, Any] = {}
    title = data.get("title") or ""
    if not 1 <= len(title) <= 45:
        errors["title"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
    cid = data.get("custom_id") or ""
    if not 1 <= len(cid) <= 100:
        errors["custom_id"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    comps = data.get("components") or []
    if not 1 <= len(comps) <= 5:
        errors["components"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for c in walk_components(comps):
        if c.get("type") == 4:
            label = c.get("label")
            if label is not None and len(label) > 45:
                errors["components"] = field_error(
                    "BASE_TYPE_BAD_LENGTH", "label must be 45 or fewer in length."
                )
            if c.get("max_length") is not None and c["max_length"] > 4000:
                errors["components"] = field_error("BASE_TYPE_BAD_LENGTH", "max_length must be 4000 or less.")
    errors.update(component_errors(comps))
    if errors:
        raise invalid_form({"data": errors})
