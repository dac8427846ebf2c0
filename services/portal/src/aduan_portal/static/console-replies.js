/* Reply templates on a report's forms (follow-up, return, reject, question): the "use a
   template" select fills the form's text box with the chosen template's text, in the
   console's language (the page put it in the option's data-text). Progressive: without
   this script the pickers stay hidden and the forms work as before; the select has no
   name, so it is never sent. Text the officer typed is replaced only after asking. */
(function () {
  "use strict";
  var pickers = document.querySelectorAll("select.reply-template");
  Array.prototype.forEach.call(pickers, function (select) {
    var target = document.getElementById(select.getAttribute("data-target"));
    var box = select.closest(".template-pick");
    if (!target || !box) {
      return;
    }
    box.hidden = false;
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      if (!option || !option.value) {
        return;
      }
      var typed = target.value.trim();
      if (typed && target.value !== target.getAttribute("data-filled") &&
          !window.confirm(select.getAttribute("data-confirm"))) {
        select.selectedIndex = 0;
        return;
      }
      target.value = option.getAttribute("data-text");
      target.setAttribute("data-filled", target.value);
      target.dispatchEvent(new Event("input", { bubbles: true }));
      target.focus();
    });
  });
})();
