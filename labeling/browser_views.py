"""The Items page and GET /api/v1/projects/{id}/items: both answer from labeling/item_browser.py."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import api_responses as out
from labeling import item_browser
from labeling.access import get_project_for_user, is_project_admin
from labeling.browser_serializers import ItemPageSerializer
from labeling.forms import ItemFilterForm
from labeling.models import Project


def _browse(request: HttpRequest, project: Project, params: QueryDict, page_size: int) -> tuple:
    """(form, page or None): a page when the filters are valid and the cursor is ours."""
    admin = is_project_admin(request.user, project)
    form = ItemFilterForm(params, project=project, admin=admin)
    if not form.is_valid():
        return form, None
    try:
        page = item_browser.browse_items(
            project,
            request.user,
            form.cleaned_data,
            admin=admin,
            cursor=form.cleaned_data["cursor"],
            page_size=page_size,
        )
    except item_browser.BadCursor as exc:
        form.add_error("cursor", str(exc))
        return form, None
    return form, page


@login_required
@require_GET
def items(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_project_for_user(request.user, slug=slug)
    form, page = _browse(request, project, request.GET, item_browser.PAGE_SIZE)
    rows = item_browser.describe_rows(project, request.user, page) if page else []
    meta_keys = sorted({key for row in rows for key in row["meta"]})
    for row in rows:
        row["meta_cells"] = [row["meta"].get(key, "") for key in meta_keys]
    context = {
        "project": project,
        "is_admin": is_project_admin(request.user, project),
        "form": form,
        "page": page,
        "rows": rows,
        "next_query": _query_with_cursor(request.GET, page.next_cursor if page else None),
        "previous_query": _query_with_cursor(request.GET, page.previous_cursor if page else None),
        "meta_keys": meta_keys,
    }
    return render(request, "labeling/items.html", context, status=200 if page else 400)


def _query_with_cursor(params: QueryDict, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = params.copy()
    query["cursor"] = cursor
    return query.urlencode()


FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="Words that must all occur in the text (full-text search)."),
    OpenApiParameter("phrase", str, description="An exact phrase, case-insensitive."),
    OpenApiParameter("split", str, enum=["pool", "test"], description="Admins only."),
    OpenApiParameter("state", str, enum=["labeled", "unlabeled"], description="Admins only."),
    OpenApiParameter("label", str, description="The current label's name. Admins only."),
    OpenApiParameter("annotator", str, description="Username of someone who labeled it. Admins only."),
    OpenApiParameter("created_from", str, description="Imported on or after this date (YYYY-MM-DD)."),
    OpenApiParameter("created_to", str, description="Imported on or before this date (YYYY-MM-DD)."),
    OpenApiParameter("batch", int, description="Import batch id."),
    OpenApiParameter("meta", str, description="A metadata key=value that must match exactly."),
    OpenApiParameter("predicted", str, description="The active model's guess (queued items). Admins only."),
    OpenApiParameter("conf_min", float, description="Confidence of that guess, at least. Admins only."),
    OpenApiParameter("conf_max", float, description="Confidence of that guess, at most. Admins only."),
    OpenApiParameter("flagged", bool, description="Only items with an open flag. Admins only."),
    OpenApiParameter("skipped", bool, description="Only items someone skipped. Admins only."),
    OpenApiParameter(
        "sort", str, enum=["id", "recent", "length", "priority"], description="priority: admins only."
    ),
    OpenApiParameter("cursor", str, description="`next` or `previous` of an earlier answer."),
    OpenApiParameter("limit", int, description=f"Rows per page, 1 to {item_browser.MAX_PAGE_SIZE}."),
]


@extend_schema(parameters=FILTER_PARAMETERS, responses={200: ItemPageSerializer, **out.errors(400, 401, 404)})
@api_view(["GET"])
def api_items(request: Request, pk: int) -> Response:
    """A keyset page of the project's items that pass the filters; annotators get their own items."""
    project = get_project_for_user(request.user, pk=pk)
    limit = _limit(request.query_params.get("limit"))
    if limit is None:
        message = f"limit: give a whole number from 1 to {item_browser.MAX_PAGE_SIZE}."
        return Response(
            {"error": message, "fields": {"limit": [message]}}, status=status.HTTP_400_BAD_REQUEST
        )
    form, page = _browse(request, project, request.query_params, limit)
    if page is None:
        fields = {name: list(messages) for name, messages in form.errors.items()}
        name, messages = next(iter(fields.items()))
        prefix = "" if name == "__all__" else f"{name}: "
        return Response({"error": prefix + messages[0], "fields": fields}, status=status.HTTP_400_BAD_REQUEST)
    rows = item_browser.describe_rows(project, request.user, page)
    body = {"items": rows, "next": page.next_cursor, "previous": page.previous_cursor}
    return Response(body)


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return item_browser.PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= item_browser.MAX_PAGE_SIZE:
        return None
    return int(raw)
