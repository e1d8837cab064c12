// Progressive enhancement for NHS.UK date inputs marked data-date-today: a "Today" button
// that fills in day, month and year. Without JavaScript the fields are typed as usual.
// A file of its own because the Content-Security-Policy forbids inline scripts.
(function () {
  function pad(value) {
    return String(value);
  }

  function addButton(group) {
    var name = group.getAttribute('data-date-today');
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'nhsuk-button nhsuk-button--secondary nhsuk-button--small app-date-today';
    button.textContent = 'Today';
    button.addEventListener('click', function () {
      var now = new Date();
      var parts = { day: now.getDate(), month: now.getMonth() + 1, year: now.getFullYear() };
      Object.keys(parts).forEach(function (part) {
        var input = document.getElementById('field-' + name + '-' + part);
        if (input) {
          input.value = pad(parts[part]);
          input.dispatchEvent(new Event('change', { bubbles: true }));
        }
      });
      var day = document.getElementById('field-' + name + '-day');
      if (day) day.focus();
    });
    group.appendChild(button);
  }

  function start() {
    var groups = document.querySelectorAll('[data-date-today]');
    for (var i = 0; i < groups.length; i += 1) addButton(groups[i]);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
