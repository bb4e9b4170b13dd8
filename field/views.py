from django.shortcuts import render

from dispatch.roles import Action, role_required


@role_required(Action.FIELD_APP)
def home(request):
    return render(request, "field/home.html")
