/**
* plotly.js locale vi (Vietnamese), from npm plotly.js-locales@3.7.0 vi.js
* Copyright (c) 2016-2024 Plotly Technologies Inc.
* Licensed under the MIT license (PLOTLY-LICENSE)
* Written by scripts/vendor-plotly.sh, which added format.decimal and format.thousands (CLDR vi)
*/
(function () {
    "use strict";
    var locale = {
        "moduleType": "locale",
        "name": "vi",
        "dictionary": {},
        "format": {
            "days": [
                "Ch\u1ee7 Nh\u1eadt",
                "Th\u1ee9 Hai",
                "Th\u1ee9 Ba",
                "Th\u1ee9 T\u01b0",
                "Th\u1ee9 N\u0103m",
                "Th\u1ee9 S\u00e1u",
                "Th\u1ee9 B\u1ea3y"
            ],
            "shortDays": [
                "CN",
                "T2",
                "T3",
                "T4",
                "T5",
                "T6",
                "T7"
            ],
            "months": [
                "Th\u00e1ng M\u1ed9t",
                "Th\u00e1ng Hai",
                "Th\u00e1ng Ba",
                "Th\u00e1ng T\u01b0",
                "Th\u00e1ng N\u0103m",
                "Th\u00e1ng S\u00e1u",
                "Th\u00e1ng B\u1ea3y",
                "Th\u00e1ng T\u00e1m",
                "Th\u00e1ng Ch\u00edn",
                "Th\u00e1ng M\u01b0\u1eddi",
                "Th\u00e1ng M\u01b0\u1eddi M\u1ed9t",
                "Th\u00e1ng M\u01b0\u1eddi Hai"
            ],
            "shortMonths": [
                "Th\u00e1ng 1",
                "Th\u00e1ng 2",
                "Th\u00e1ng 3",
                "Th\u00e1ng 4",
                "Th\u00e1ng 5",
                "Th\u00e1ng 6",
                "Th\u00e1ng 7",
                "Th\u00e1ng 8",
                "Th\u00e1ng 9",
                "Th\u00e1ng 10",
                "Th\u00e1ng 11",
                "Th\u00e1ng 12"
            ],
            "date": "%d/%m/%Y",
            "decimal": ",",
            "thousands": "."
        }
    };
    if (typeof window.Plotly === "undefined") {
        window.PlotlyLocales = window.PlotlyLocales || [];
        window.PlotlyLocales.push(locale);
    } else {
        window.Plotly.register(locale);
    }
})();
