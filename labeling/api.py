"""JSON API of the labeling app: /api/v1/projects, items, annotations, imports, exports."""

from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import adjudication, exports, services, team_stats, versions, workstation
from labeling import api_responses as out
from labeling.access import (
    can_create_projects,
    get_item_for_user,
    get_project_for_user,
    is_project_admin,
    visible_projects,
)
from labeling.overlap import NoRoomForLabel
from labeling.queue import LeaseLimitReached, serve_next_item
from labeling.serializers import (
    AnnotationSerializer,
    DatasetVersionSerializer,
    LabelChoiceSerializer,
    MemberSerializer,
    ProjectSerializer,
    ProjectSettingsSerializer,
    SkipSerializer,
    SnapshotSerializer,
    serialize_history_entry,
    serialize_review_item,
    serialize_served,
)


@extend_schema(methods=["GET"], responses={200: ProjectSerializer(many=True), **out.errors(401)})
@extend_schema(
    methods=["POST"],
    request=ProjectSerializer,
    responses={201: ProjectSerializer, **out.errors(400, 401, 403)},
)
@api_view(["GET", "POST"])
def projects(request: Request) -> Response:
    if request.method == "GET":
        found = visible_projects(request.user).prefetch_related("labels")
        return Response(ProjectSerializer(found, many=True).data)
    if not can_create_projects(request.user):
        raise PermissionDenied("Only admins can create projects.")
    serializer = ProjectSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    fields = dict(serializer.validated_data)
    project = services.create_project(request.user, fields.pop("name"), fields.pop("labels"), **fields)
    return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses={200: ProjectSerializer, **out.errors(401, 404)})
@extend_schema(
    methods=["PATCH"],
    request=ProjectSettingsSerializer,
    responses={200: ProjectSerializer, **out.errors(400, 401, 403, 404)},
)
@api_view(["GET", "PATCH"])
def project_detail(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=request.method == "PATCH")
    if request.method == "PATCH":
        serializer = ProjectSettingsSerializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            project = services.update_project_settings(project, dict(serializer.validated_data))
        except services.SettingsRejected as exc:
            body = {"error": exc.message, "fields": {exc.field: [exc.message]}}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return Response(ProjectSerializer(project).data)


@extend_schema(
    request=MemberSerializer, responses={201: out.MemberResultSerializer, **out.errors(400, 401, 403, 404)}
)
@api_view(["POST"])
def project_members(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = MemberSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user, role = serializer.validated_data["username"], serializer.validated_data["role"]
    services.add_member(project, user, role)
    return Response({"username": user.username, "role": role}, status=status.HTTP_201_CREATED)


@extend_schema(
    parameters=[
        OpenApiParameter("exclude", int, many=True, description="Item ids not to serve (repeatable).")
    ],
    responses={
        200: out.ServedSerializer,
        204: OpenApiResponse(description="Nothing left to label for the caller right now."),
        **out.errors(401, 404),
    },
)
@api_view(["GET"])
def project_next(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk)
    exclude = [int(v) for v in request.query_params.getlist("exclude") if v.isdigit()]
    try:
        served = serve_next_item(project, request.user, exclude=exclude)
    except LeaseLimitReached as exc:
        return Response({"error": str(exc), "held": exc.held}, status=status.HTTP_409_CONFLICT)
    if served is None:
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(serialize_served(served))


@extend_schema(
    request=AnnotationSerializer,
    responses={
        201: out.AnnotationResultSerializer,
        200: OpenApiResponse(out.AnnotationResultSerializer, description="A retry: the first annotation."),
        **out.errors(400, 401, 404, 409),
    },
)
@api_view(["POST"])
@parser_classes([JSONParser, FormParser])
def item_annotations(request: Request, pk: int) -> Response:
    item = get_item_for_user(request.user, pk)
    serializer = AnnotationSerializer(data=request.data, context={"item": item})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        annotation, created = services.save_annotation(
            item,
            request.user,
            data["label"],
            duration_ms=data.get("duration_ms"),
            client_id=data.get("client_id"),
        )
    except (services.ClientIdReused, NoRoomForLabel) as exc:
        return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
    except services.NothingToUndo as exc:
        return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    body = {
        "id": annotation.pk,
        "item": item.pk,
        "label": annotation.label.name if annotation.label else None,
        "created_at": annotation.created_at,
    }
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(request=SkipSerializer, responses={201: out.SkipResultSerializer, **out.errors(400, 401, 404)})
@api_view(["POST"])
def item_skip(request: Request, pk: int) -> Response:
    item = get_item_for_user(request.user, pk)
    serializer = SkipSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    skip = services.skip_item(item, request.user, **serializer.validated_data)
    return Response({"id": skip.pk, "item": item.pk, "flagged": skip.flagged}, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: out.StatsSerializer, **out.errors(401, 404)})
@api_view(["GET"])
def project_stats(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk)
    return Response(services.get_project_stats(project))


@extend_schema(
    parameters=[OpenApiParameter("format", str, enum=list(exports.FORMATS), default="csv")],
    responses={
        (200, "text/csv"): OpenApiResponse(
            str, description="The labels, streamed; JSON lines with format=jsonl."
        ),
        **out.errors(400, 401, 403, 404),
    },
)
@api_view(["GET"])
def project_export(request: Request, pk: int) -> StreamingHttpResponse | Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    fmt = request.query_params.get("format", "csv")
    if fmt not in exports.FORMATS:
        return Response(
            {"error": f"Unknown format {fmt!r}; choose one of: {', '.join(exports.FORMATS)}."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return exports.export_response(project, services.get_label_watermark(project), fmt)


@extend_schema(
    parameters=[OpenApiParameter("limit", int, default=20, description="At most 100.")],
    responses={200: out.HistorySerializer, **out.errors(400, 401, 404)},
)
@api_view(["GET"])
def project_history(request: Request, pk: int) -> Response:
    """The caller's own recent labels in the project, newest first (?limit=, at most 100)."""
    project = get_project_for_user(request.user, pk=pk)
    limit = request.query_params.get("limit", "20")
    if not limit.isdigit() or int(limit) < 1:
        return Response(
            {"error": "limit must be a positive whole number."}, status=status.HTTP_400_BAD_REQUEST
        )
    entries = workstation.get_history(project, request.user, int(limit))
    return Response({"history": [serialize_history_entry(a) for a in entries]})


@extend_schema(methods=["GET"], responses={200: DatasetVersionSerializer(many=True), **out.errors(401, 404)})
@extend_schema(
    methods=["POST"],
    request=SnapshotSerializer,
    responses={201: DatasetVersionSerializer, **out.errors(400, 401, 403, 404)},
)
@api_view(["GET", "POST"])
def project_versions(request: Request, pk: int) -> Response:
    if request.method == "GET":
        project = get_project_for_user(request.user, pk=pk)
        found = project.versions.select_related("parent", "created_by")
        return Response(DatasetVersionSerializer(found, many=True).data)
    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = SnapshotSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    version = services.create_dataset_version(project, request.user, note=serializer.validated_data["note"])
    return Response(DatasetVersionSerializer(version).data, status=status.HTTP_201_CREATED)


@extend_schema(
    parameters=[OpenApiParameter("format", str, enum=list(versions.FORMATS), default="csv")],
    responses={
        (200, "text/csv"): OpenApiResponse(str, description="Version n, streamed, in the chosen format."),
        **out.errors(400, 401, 403, 404),
    },
)
@api_view(["GET"])
def version_export(request: Request, pk: int, number: int) -> StreamingHttpResponse | Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    version = get_object_or_404(project.versions, number=number)
    fmt = request.query_params.get("format", "csv")
    if fmt not in versions.FORMATS:
        return Response(
            {"error": f"Unknown format {fmt!r}; choose one of: {', '.join(versions.FORMATS)}."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return versions.version_response(version, fmt)


@extend_schema(responses={200: out.ProgressSerializer, **out.errors(401, 404)})
@api_view(["GET"])
def project_progress(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk)
    admin = is_project_admin(request.user, project)
    return Response(workstation.get_progress(project, request.user, include_test=admin))


@extend_schema(responses={200: out.AgreementSerializer, **out.errors(401, 404)})
@api_view(["GET"])
def project_agreement(request: Request, pk: int) -> Response:
    """Agreement in the project; an annotator sees only the pairs they are part of."""
    project = get_project_for_user(request.user, pk=pk)
    only_with = None if is_project_admin(request.user, project) else request.user.pk
    return Response(team_stats.get_agreement_report(project, only_pairs_with=only_with))


@extend_schema(responses={200: out.TeamStatsSerializer, **out.errors(401, 403, 404)})
@api_view(["GET"])
def project_annotator_stats(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    return Response(
        {
            "annotators": team_stats.get_annotator_stats(project),
            "suggestions": team_stats.get_suggestion_stats(project),
        }
    )


@extend_schema(responses={200: out.ReviewListSerializer, **out.errors(401, 403, 404)})
@api_view(["GET"])
def project_conflicts(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    reviews = adjudication.list_conflicts(project)
    return Response(
        {"count": adjudication.count_conflicts(project), "items": [serialize_review_item(r) for r in reviews]}
    )


@extend_schema(
    request=LabelChoiceSerializer,
    responses={201: out.AdjudicationResultSerializer, **out.errors(400, 401, 403, 404)},
)
@api_view(["POST"])
def item_adjudicate(request: Request, pk: int) -> Response:
    item = get_item_for_user(request.user, pk, admin=True)
    serializer = LabelChoiceSerializer(data=request.data, context={"item": item})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    annotation = adjudication.adjudicate_item(item, request.user, data["label"], data.get("client_id"))
    item.refresh_from_db()
    body = {"annotation": annotation.pk, "item": item.pk, "label": item.label.name, "conflict": item.conflict}
    return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: out.ReviewListSerializer, **out.errors(401, 403, 404)})
@api_view(["GET"])
def project_flags(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    reviews = adjudication.list_open_flags(project)
    return Response(
        {
            "count": adjudication.count_open_flags(project),
            "items": [serialize_review_item(r) for r in reviews],
        }
    )


@extend_schema(
    request=LabelChoiceSerializer,
    responses={200: out.FlagsResolvedSerializer, **out.errors(400, 401, 403, 404)},
)
@api_view(["POST"])
def item_resolve_flags(request: Request, pk: int) -> Response:
    """Close the item's open flags: with a label, decide it; with `null`, return it to the queue."""
    item = get_item_for_user(request.user, pk, admin=True)
    serializer = LabelChoiceSerializer(data=request.data, context={"item": item, "allow_null": True})
    serializer.is_valid(raise_exception=True)
    try:
        closed = adjudication.resolve_flags(item, request.user, serializer.validated_data["label"])
    except adjudication.NoOpenFlags as exc:
        return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    item.refresh_from_db()
    label = item.label.name if item.label_id else None
    return Response({"item": item.pk, "closed": closed, "label": label})


@extend_schema(request=None, responses={200: out.TokenRevokedSerializer, **out.errors(401)})
@api_view(["POST"])
def token_revoke(request: Request) -> Response:
    """Revoke the caller's API token: requests with it get 401 from now on."""
    revoked = services.revoke_api_token(request.user)
    return Response({"revoked": revoked})


@extend_schema(
    parameters=[OpenApiParameter("limit", int, default=versions.DIFF_LIMIT, description="1 to 10000.")],
    responses={200: out.VersionDiffSerializer, **out.errors(400, 401, 403, 404)},
)
@api_view(["GET"])
def version_diff(request: Request, pk: int, a: int, b: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    old = get_object_or_404(project.versions, number=a)
    new = get_object_or_404(project.versions, number=b)
    limit = request.query_params.get("limit", str(versions.DIFF_LIMIT))
    if not limit.isdigit() or not 0 < int(limit) <= 10_000:
        return Response(
            {"error": "limit must be a whole number from 1 to 10000."}, status=status.HTTP_400_BAD_REQUEST
        )
    return Response(versions.diff_versions(project, old, new, limit=int(limit)))
