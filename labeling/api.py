"""JSON API of the labeling app: /api/v1/projects, items, annotations, imports, exports."""

from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from labeling import exports, services, versions
from labeling.access import (
    can_create_projects,
    get_item_for_user,
    get_project_for_user,
    visible_projects,
)
from labeling.importing import ImportRejected
from labeling.queue import serve_next_item
from labeling.serializers import (
    AnnotationSerializer,
    DatasetVersionSerializer,
    ImportSerializer,
    MemberSerializer,
    ProjectSerializer,
    SkipSerializer,
    SnapshotSerializer,
    serialize_served,
)


@extend_schema(request=ProjectSerializer, responses=ProjectSerializer(many=True))
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


@extend_schema(responses=ProjectSerializer)
@api_view(["GET"])
def project_detail(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk)
    return Response(ProjectSerializer(project).data)


@extend_schema(request=MemberSerializer, responses={201: dict})
@api_view(["POST"])
def project_members(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = MemberSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user, role = serializer.validated_data["username"], serializer.validated_data["role"]
    services.add_member(project, user, role)
    return Response({"username": user.username, "role": role}, status=status.HTTP_201_CREATED)


@extend_schema(request={"multipart/form-data": ImportSerializer}, responses={201: dict, 400: dict})
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser])
def project_imports(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = ImportSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    upload = serializer.validated_data["file"]
    try:
        batch = services.import_items(project, request.user, upload.read(), upload.name)
    except ImportRejected as exc:
        return Response({"error": exc.message, "rows": exc.rows}, status=status.HTTP_400_BAD_REQUEST)
    counts = {"imported": batch.rows, "pool": batch.pool, "test": batch.test, "labeled": batch.labeled}
    return Response({"id": batch.pk, **counts}, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: dict, 204: None})
@api_view(["GET"])
def project_next(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk)
    exclude = [int(v) for v in request.query_params.getlist("exclude") if v.isdigit()]
    served = serve_next_item(project, request.user, exclude=exclude)
    if served is None:
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(serialize_served(served))


@extend_schema(request=AnnotationSerializer, responses={201: dict})
@api_view(["POST"])
@parser_classes([JSONParser, FormParser])
def item_annotations(request: Request, pk: int) -> Response:
    item = get_item_for_user(request.user, pk)
    serializer = AnnotationSerializer(data=request.data, context={"item": item})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    annotation, created = services.save_annotation(
        item,
        request.user,
        data["label"],
        duration_ms=data.get("duration_ms"),
        client_id=data.get("client_id"),
    )
    body = {
        "id": annotation.pk,
        "item": item.pk,
        "label": annotation.label.name if annotation.label else None,
        "created_at": annotation.created_at,
    }
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(request=SkipSerializer, responses={201: dict})
@api_view(["POST"])
def item_skip(request: Request, pk: int) -> Response:
    item = get_item_for_user(request.user, pk)
    serializer = SkipSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    skip = services.skip_item(item, request.user, **serializer.validated_data)
    return Response({"id": skip.pk, "item": item.pk, "flagged": skip.flagged}, status=status.HTTP_201_CREATED)


@extend_schema(responses=dict)
@api_view(["GET"])
def project_stats(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk)
    return Response(services.get_project_stats(project))


@extend_schema(responses={(200, "text/csv"): str})
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


@extend_schema(request=SnapshotSerializer, responses={200: DatasetVersionSerializer(many=True), 201: dict})
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


@extend_schema(responses={(200, "text/csv"): str, 400: dict})
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


@extend_schema(responses=dict)
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
