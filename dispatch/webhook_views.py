"""The supervisor's webhook page: every machine client's subscriptions and their latest
deliveries (failed first), and "try again now" for one delivery."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dispatch import selectors, services
from dispatch.models import WebhookDelivery
from dispatch.roles import Action, role_required


@require_GET
@role_required(Action.WEBHOOK_ADMIN)
def webhooks(request):
    return render(request, "dispatch/webhooks.html", selectors.webhook_overview())


@require_POST
@role_required(Action.WEBHOOK_ADMIN)
def webhook_delivery_retry(request, delivery_id):
    try:
        delivery = services.webhook_delivery_retry(delivery_id=delivery_id, actor=request.user)
    except WebhookDelivery.DoesNotExist:
        messages.error(request, "That delivery is no longer kept.")
    except services.ServiceConflict as conflict:
        messages.error(request, conflict.detail)
    else:
        messages.success(request, f"Event {delivery.event_id} will be sent again now.")
    return redirect("dispatch:webhooks")
