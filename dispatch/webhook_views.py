"""The supervisor's webhook page: every machine client's subscriptions and their latest
deliveries (failed first), and "try again now" for one delivery."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dispatch import selectors, services
from dispatch.models import WebhookDelivery
from dispatch.roles import Action, program_ids_for, role_required


@require_GET
@role_required(Action.WEBHOOK_ADMIN)
def webhooks(request):
    return render(request, "dispatch/webhooks.html", selectors.webhook_overview(request.user))


@require_POST
@role_required(Action.WEBHOOK_ADMIN)
def webhook_delivery_retry(request, delivery_id):
    ids = program_ids_for(request.user, Action.WEBHOOK_ADMIN)
    theirs = WebhookDelivery.objects.filter(pk=delivery_id)
    if ids is not None and not theirs.filter(subscription__api_client__program_id__in=ids).exists():
        raise Http404  # another program's client's delivery, as for none
    try:
        delivery = services.webhook_delivery_retry(delivery_id=delivery_id, actor=request.user)
    except WebhookDelivery.DoesNotExist:
        messages.error(request, "That delivery is no longer kept.")
    except services.ServiceConflict as conflict:
        messages.error(request, conflict.detail)
    else:
        messages.success(request, f"Event {delivery.event_id} will be sent again now.")
    return redirect("dispatch:webhooks")
