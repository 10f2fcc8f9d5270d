"""JSON API of the learners app: retrain, jobs, model versions.

As in learners/views.py, the computing modules are imported in the endpoints that use them.
"""

from collections.abc import Callable

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from labeling.access import get_project_for_user, is_project_admin, visible_projects
from labeling.api_responses import ImportErrorSerializer, ImportResultSerializer, errors
from labeling.importing import ImportRejected
from labeling.serializers import ImportSerializer
from learners import imports, jobs, simulation_jobs, triggers
from learners.access import get_model_for_user
from learners.forms import TopKForm
from learners.models import Job, ModelVersion
from learners.serializers import (
    JobAcceptedSerializer,
    JobConflictSerializer,
    JobSerializer,
    ModelEvaluationSerializer,
    ModelVersionSerializer,
    SimulationSerializer,
)


def _started(start: Callable[[], Job]) -> Response:
    """202 with the new job; 409 with the job already running; 503 when the queue is down."""
    try:
        job = start()
    except jobs.JobInProgress as exc:
        return Response(
            {"error": str(exc), "job": JobSerializer(exc.job).data}, status=status.HTTP_409_CONFLICT
        )
    except jobs.QueueUnreachable as exc:
        return Response({"error": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    request={"multipart/form-data": ImportSerializer},
    responses={
        201: ImportResultSerializer,
        202: JobAcceptedSerializer,
        **errors(400, serializer=ImportErrorSerializer),
        **errors(401, 403, 404, 503),
    },
)
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser])
def project_imports(request: Request, pk: int) -> Response:
    """Import a CSV or JSONL file: 201 with the counts for a small file (at most
    SIFT_IMPORT_INLINE_BYTES), else 202 with an "import" job whose result carries them."""
    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = ImportSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    upload = serializer.validated_data["file"]
    try:
        started = imports.import_upload(project, request.user, upload)
    except ImportRejected as exc:
        return Response({"error": exc.message, "rows": exc.rows}, status=status.HTTP_400_BAD_REQUEST)
    except jobs.QueueUnreachable as exc:
        return Response({"error": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(started, Job):
        return Response({"job": JobSerializer(started).data}, status=status.HTTP_202_ACCEPTED)
    return Response(imports.counts(started), status=status.HTTP_201_CREATED)


@extend_schema(
    request=None,
    responses={
        202: JobAcceptedSerializer,
        **errors(409, serializer=JobConflictSerializer),
        **errors(401, 403, 404, 503),
    },
)
@api_view(["POST"])
def project_retrain(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    return _started(lambda: triggers.start_retrain(project, request.user))


@extend_schema(responses={200: JobSerializer(many=True), **errors(401, 404)})
@api_view(["GET"])
def project_jobs(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk)
    return Response(JobSerializer(project.jobs.all()[:50], many=True).data)


@extend_schema(responses={200: JobSerializer, **errors(401, 404)})
@api_view(["GET"])
def job_detail(request: Request, pk: int) -> Response:
    job = get_object_or_404(Job.objects.filter(project__in=visible_projects(request.user)), pk=pk)
    return Response(JobSerializer(job).data)


@extend_schema(responses={200: ModelVersionSerializer(many=True), **errors(401, 404)})
@api_view(["GET"])
def project_models(request: Request, pk: int) -> Response:
    project = get_project_for_user(request.user, pk=pk)
    versions = ModelVersion.objects.filter(project=project).select_related("dataset_version")
    return Response(ModelVersionSerializer(versions, many=True).data)


@extend_schema(
    request=SimulationSerializer, responses={202: JobAcceptedSerializer, **errors(400, 401, 403, 404, 503)}
)
@api_view(["POST"])
def project_simulations(request: Request, pk: int) -> Response:
    """Would active learning help here, and which strategy? Replays the project's labels."""
    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = SimulationSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return _started(
        lambda: simulation_jobs.start_simulation(project, request.user, serializer.validated_data)
    )


@extend_schema(responses={200: ModelVersionSerializer, **errors(401, 404)})
@api_view(["GET"])
def model_detail(request: Request, pk: str) -> Response:
    return Response(ModelVersionSerializer(get_model_for_user(request.user, pk)).data)


@extend_schema(
    request=None,
    responses={
        202: JobAcceptedSerializer,
        **errors(409, serializer=JobConflictSerializer),
        **errors(400, 401, 403, 404, 503),
    },
)
@api_view(["POST"])
def model_activate(request: Request, pk: str) -> Response:
    from learners import lifecycle

    model_version = get_model_for_user(request.user, pk, admin=True)
    try:
        return _started(lambda: lifecycle.start_activation(model_version, request.user))
    except lifecycle.ActivationRefused as exc:
        return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


@extend_schema(
    parameters=[OpenApiParameter("k", int, default=10, description="Entries per top list, 1 to 50.")],
    responses={200: ModelEvaluationSerializer, **errors(400, 401, 404)},
)
@api_view(["GET"])
def model_evaluation(request: Request, pk: str) -> Response:
    from learners import blinding, reports

    model_version = get_model_for_user(request.user, pk)
    form = TopKForm(request.query_params)
    if not form.is_valid():
        return Response(
            {"error": "k must be a whole number from 1 to 50."}, status=status.HTTP_400_BAD_REQUEST
        )
    return Response(
        {
            "model": ModelVersionSerializer(model_version).data,
            "evaluation": blinding.evaluation_for(
                model_version,
                form.cleaned_data["k"],
                is_admin=is_project_admin(request.user, model_version.project),
            ),
            "shadow": model_version.shadow,
            "learning_curve": reports.learning_curve(model_version.project),
        }
    )
