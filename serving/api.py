"""JSON API of serving: service tokens, predictions, feedback, monitoring."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, parser_classes, permission_classes, throttle_classes
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from labeling.access import get_project_for_user, is_project_admin, visible_projects
from labeling.api_responses import ImportErrorSerializer, errors
from labeling.exports import CONTENT_TYPES
from labeling.importing import ImportRejected
from labeling.models import Project
from learners import jobs
from learners.models import Job
from learners.serializers import JobAcceptedSerializer, JobSerializer
from serving.auth import ServiceTokenOrPerson, ServingThrottle, service_token
from serving.models import PredictionLog, ServiceToken
from serving.serializers import (
    BatchPredictionRequestSerializer,
    CanaryRequestSerializer,
    CanaryStateSerializer,
    FeedbackRequestSerializer,
    FeedbackResultSerializer,
    MonitoringSerializer,
    PredictRequestSerializer,
    PredictResponseSerializer,
    ServiceTokenCreatedSerializer,
    ServiceTokenCreateSerializer,
    ServiceTokenSerializer,
    ShadowComparisonSerializer,
    ShadowRequestSerializer,
)


def _token_data(token: ServiceToken) -> dict:
    return ServiceTokenSerializer(token).data


@extend_schema(methods=["GET"], responses={200: ServiceTokenSerializer(many=True), **errors(401, 403, 404)})
@extend_schema(
    methods=["POST"],
    request=ServiceTokenCreateSerializer,
    responses={201: ServiceTokenCreatedSerializer, **errors(400, 401, 403, 404)},
)
@api_view(["GET", "POST"])
def service_tokens(request: Request, pk: int) -> Response:
    """A project's service tokens (admins): they may predict and send feedback, nothing else."""
    project = get_project_for_user(request.user, pk=pk, admin=True)
    if request.method == "GET":
        return Response([_token_data(t) for t in ServiceToken.objects.filter(project=project)])
    serializer = ServiceTokenCreateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    token, key = ServiceToken.issue(project, serializer.validated_data["name"], request.user)
    return Response({**_token_data(token), "token": key}, status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses={204: None, **errors(401, 403, 404)})
@api_view(["DELETE"])
def service_token_revoke(request: Request, pk: int, token_id: int) -> Response:
    project = get_project_for_user(request.user, pk=pk, admin=True)
    token = get_object_or_404(ServiceToken, project=project, pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return Response(status=status.HTTP_204_NO_CONTENT)


def _serving_project(request: Request, pk: int) -> Project:
    """The project a service token belongs to, or one the signed-in person administers."""
    token = service_token(request)
    if token is not None:
        if token.project_id != pk:
            raise NotFound("No such project for this token.")
        return token.project
    return get_project_for_user(request.user, pk=pk, admin=True)


def _client_key(request: Request) -> str:
    given = request.headers.get("X-Client-Key", "").strip()
    if given:
        return given[:100]
    token = service_token(request)
    return f"token:{token.pk}" if token else f"user:{request.user.pk}"


def _serving_view(view):
    view.cls.accepts_service_tokens = True
    return view


@extend_schema(
    request=PredictRequestSerializer,
    parameters=[
        OpenApiParameter(
            "X-Client-Key",
            str,
            OpenApiParameter.HEADER,
            required=False,
            description="Who the prediction is for (kept in the log).",
        )
    ],
    responses={200: PredictResponseSerializer, **errors(400, 401, 403, 404, 409)},
)
@api_view(["POST"])
@permission_classes([ServiceTokenOrPerson])
@throttle_classes([ServingThrottle])
def predict(request: Request, pk: int) -> Response:
    """Label each text with the active model, or abstain, or refuse with a reason."""
    from learners.lifecycle import ModelUnavailable  # numpy and scikit-learn: loaded on first use
    from serving import engine, services

    project = _serving_project(request, pk)
    try:
        texts = services.check_batch(request.data.get("texts") if isinstance(request.data, dict) else None)
        model, answers = services.predict(project, texts, _client_key(request))
    except services.BadBatch as exc:
        return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    except (engine.NoActiveModel, ModelUnavailable) as exc:
        return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
    return Response(
        {"model": model.model_id, "dataset_version": model.dataset_version, "predictions": answers}
    )


predict = _serving_view(predict)


@extend_schema(
    request=FeedbackRequestSerializer,
    responses={201: FeedbackResultSerializer, **errors(400, 401, 403, 404, 409)},
)
@api_view(["POST"])
@permission_classes([ServiceTokenOrPerson])
@throttle_classes([ServingThrottle])
def feedback(request: Request, prediction_id: str) -> Response:
    """Say whether a prediction was right: the text becomes an item to label (a signal, not a label)."""
    from serving import services

    # The body first: a malformed one is a 400 (or 415) whatever the id, and says nothing of it.
    serializer = FeedbackRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    token = service_token(request)
    predictions = PredictionLog.objects.select_related("project")
    if token is not None:
        prediction = get_object_or_404(predictions, pk=prediction_id, project_id=token.project_id)
    else:
        prediction = get_object_or_404(predictions, pk=prediction_id)
        get_project_for_user(request.user, pk=prediction.project_id, admin=True)
    try:
        given, item, created = services.give_feedback(prediction, data["correct"], data.get("label"), token)
    except services.FeedbackRefused as exc:
        return Response({"error": str(exc)}, status=exc.status)
    return Response(
        {
            "id": given.pk,
            "prediction": str(prediction.pk),
            "correct": given.correct,
            "label": data.get("label"),
            "item": item.pk if item else None,
            "item_created": created,
            "split": item.split if item else None,
        },
        status=status.HTTP_201_CREATED,
    )


feedback = _serving_view(feedback)


@extend_schema(
    parameters=[OpenApiParameter("minutes", int, default=60, description="The window, 1 to 10080 minutes.")],
    responses={200: MonitoringSerializer, **errors(400, 401, 403, 404)},
)
@api_view(["GET"])
def project_monitoring(request: Request, pk: int) -> Response:
    from serving import monitoring

    project = get_project_for_user(request.user, pk=pk, admin=True)
    try:
        minutes = int(request.query_params.get("minutes", 60))
    except ValueError:
        minutes = 0
    if not 1 <= minutes <= 10_080:
        return Response({"error": "minutes must be a whole number from 1 to 10080."}, status=400)
    return Response(monitoring.monitoring(project, minutes))


def _minutes(request: Request) -> int | None:
    try:
        minutes = int(request.query_params.get("minutes", 60))
    except ValueError:
        return None
    return minutes if 1 <= minutes <= 10_080 else None


@extend_schema(
    methods=["GET"],
    parameters=[OpenApiParameter("minutes", int, default=60, description="The window, 1 to 10080 minutes.")],
    responses={200: ShadowComparisonSerializer, **errors(400, 401, 403, 404)},
)
@extend_schema(
    methods=["PUT"],
    request=ShadowRequestSerializer,
    responses={200: ShadowComparisonSerializer, **errors(400, 401, 403, 404)},
)
@api_view(["GET", "PUT"])
def project_shadow(request: Request, pk: int) -> Response:
    """The shadow model (admins): it answers live traffic alongside the active one, never to clients."""
    from serving import shadow

    project = get_project_for_user(request.user, pk=pk, admin=True)
    if request.method == "PUT":
        serializer = ShadowRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            shadow.set_shadow(project, serializer.validated_data["model"], request.user)
        except ValueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    minutes = _minutes(request)
    if minutes is None:
        return Response({"error": "minutes must be a whole number from 1 to 10080."}, status=400)
    return Response(shadow.comparison(project, minutes))


@extend_schema(methods=["GET"], responses={200: CanaryStateSerializer, **errors(401, 403, 404)})
@extend_schema(
    methods=["PUT"],
    request=CanaryRequestSerializer,
    responses={200: CanaryStateSerializer, **errors(400, 401, 403, 404)},
)
@api_view(["GET", "PUT"])
def project_canary(request: Request, pk: int) -> Response:
    """The canary (admins): a share of clients, by a hash of their client key, answered by a candidate.

    `{"model": null}` or share 0 rolls back; promotion is POST /api/v1/models/{id}/activate.
    """
    from serving import shadow

    project = get_project_for_user(request.user, pk=pk, admin=True)
    if request.method == "PUT":
        serializer = CanaryRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            shadow.set_canary(project, data["model"], data["share"], request.user)
        except ValueError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return Response(shadow.canary_state(project))


@extend_schema(
    request={
        "multipart/form-data": BatchPredictionRequestSerializer,
        "application/json": BatchPredictionRequestSerializer,
    },
    responses={
        202: JobAcceptedSerializer,
        **errors(400, serializer=ImportErrorSerializer),
        **errors(401, 403, 404, 409, 503),
    },
)
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser, JSONParser])
def batch_predictions(request: Request, pk: int) -> Response:
    """Predict a CSV/JSONL file's texts, or the unlabeled pool, in a "predict" job (admins).

    202 with the job; when it succeeds, GET /api/v1/jobs/{id}/predictions downloads the file.
    """
    from learners.lifecycle import ModelUnavailable  # numpy and scikit-learn: loaded on first use
    from serving import batch, engine

    project = get_project_for_user(request.user, pk=pk, admin=True)
    serializer = BatchPredictionRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        job = batch.start_batch(
            project, request.user, data["format"], upload=data.get("file"), unlabeled=data["unlabeled"]
        )
    except (batch.NothingToPredict, ImportRejected) as exc:
        rows = exc.rows if isinstance(exc, ImportRejected) else []
        return Response({"error": str(exc), "rows": rows}, status=status.HTTP_400_BAD_REQUEST)
    except (engine.NoActiveModel, ModelUnavailable) as exc:
        return Response({"error": str(exc)}, status=status.HTTP_409_CONFLICT)
    except jobs.QueueUnreachable as exc:
        return Response({"error": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    responses={
        (200, "text/csv"): OpenApiResponse(str, description="The predictions; JSON lines for a jsonl job."),
        **errors(401, 404, 409),
    },
)
@api_view(["GET"])
def job_predictions(request: Request, pk: int) -> FileResponse | Response:
    """The file of a finished "predict" job (admins of its project; 404 for anyone else)."""
    from serving import batch

    job = get_object_or_404(
        Job.objects.select_related("project").filter(
            kind=Job.Kind.PREDICT, project__in=visible_projects(request.user)
        ),
        pk=pk,
    )
    if not is_project_admin(request.user, job.project):
        raise NotFound("No such batch prediction job.")
    if job.state != Job.State.SUCCEEDED:
        detail = job.error or job.message
        error = f"The job is {job.state}, not finished: there is no file to download. {detail}"
        return Response(
            {"error": error.strip()},
            status=status.HTTP_409_CONFLICT,
        )
    path = batch.download_path(job)
    if path is None:
        raise NotFound("The job's file is no longer in SIFT_PREDICTIONS_DIR.")
    fmt = job.params["format"]
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{job.project.slug}-predictions-{job.pk}.{fmt}",
        content_type=CONTENT_TYPES[fmt],
    )
