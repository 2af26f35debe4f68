// The matrix filter: hides the rows whose case id does not contain the text typed.
(function () {
  var f = document.getElementById('filter');
  if (!f) return;
  f.addEventListener('input', function () {
    var q = f.value.toLowerCase();
    document.querySelectorAll('table.mx tr').forEach(function (tr) {
      var c = tr.querySelector('td code');
      if (!c) return;
      tr.style.display = c.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
})();
