// The officer's referral: one tap puts the phone's position in the form (the browser asks the
// officer first). Without geolocation the button stays hidden and the address is typed.
const button = document.getElementById("locate");
const status = document.getElementById("locate-status");
const latitude = document.getElementById("id_latitude");
const longitude = document.getElementById("id_longitude");
const address = document.getElementById("id_address");

function say(text) {
  if (status) status.textContent = text;
}

if (button && latitude && longitude && "geolocation" in navigator) {
  button.hidden = false;
  button.addEventListener("click", () => {
    button.disabled = true;
    say("Finding your location…");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const { latitude: lat, longitude: lon, accuracy } = position.coords;
        latitude.value = lat.toFixed(6);
        longitude.value = lon.toFixed(6);
        button.disabled = false;
        button.textContent = `Location set ✓ (±${Math.round(accuracy)} m)`;
        // One short line: the required answers must still fit the phone's first screen.
        say(`${lat.toFixed(5)}, ${lon.toFixed(5)}`);
        if (address) address.placeholder = "Address (optional now)";
      },
      (error) => {
        button.disabled = false;
        say(error.code === error.PERMISSION_DENIED
          ? "Location not allowed: type the address instead."
          : "Could not find your location: type the address instead.");
        if (address) address.focus();
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}
