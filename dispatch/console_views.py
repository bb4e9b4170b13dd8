"""The dispatcher console."""

from django.shortcuts import render

from dispatch.roles import Action, role_required


@role_required(Action.DISPATCH_CONSOLE)
def console(request):
    return render(request, "dispatch/console.html")
