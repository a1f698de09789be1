//! Forms described once: what each field is, how a submitted form becomes the API's JSON body, and
//! how the form is drawn again with the values sent and the API's refusal next to each field.

use std::borrow::Cow;
use std::collections::HashMap;

use maud::{Markup, html};
use serde_json::{Map, Value};

use super::session::FormData;
use crate::error::ApiError;

/// What kind of input a field is, and how its value goes into the body.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A line of text, sent as it is (blank included: the API says what it needs).
    Text,
    /// A line of text left out of the body when blank; on a change, blank clears it (`null`).
    Optional,
    /// A secret: never drawn with its value; left out of the body when blank (so a change keeps it).
    Secret,
    /// Several values, separated by commas or spaces; none leaves it out (on a change: clears it,
    /// `null`).
    List,
    /// Ticks among `options` (value, label): a list.
    Checks(Vec<(String, String)>),
    /// One of `options` (value, label); `blank` names the empty choice, which leaves the field out
    /// (on a change: clears it).
    Choice { options: Vec<(String, String)>, blank: Option<&'static str> },
    /// A checkbox: a boolean.
    Flag,
    /// A text to be sent as SMS, in several lines with a live count of its segments; blank leaves
    /// it out (on a change: clears it).
    Reply,
    /// A fixed value the person does not choose.
    Fixed(&'static str),
    /// A whole number; text that is not one is sent as it is, for the API to name.
    Count,
    /// A time of day, `HH:MM`; blank leaves it out.
    Time,
    /// Several lines, one `item` each (blank lines skipped): a list. A refusal of the body's
    /// `i`-th item is shown as "`item` `i + 1`: …".
    Lines { item: &'static str },
}

/// One field of a form, named as in the API's body.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: Cow<'static, str>,
    /// Consecutive fields of one group are drawn in one fieldset with this legend.
    pub group: Option<&'static str>,
    pub kind: Kind,
    pub help: Option<&'static str>,
    /// Whether it can be changed after creation (if not, a change shows it without an input).
    pub changeable: bool,
    /// Whether it is given at creation (if not, only a change offers it).
    pub creatable: bool,
}

impl Field {
    pub fn new(name: &'static str, label: impl Into<Cow<'static, str>>, kind: Kind) -> Self {
        Self { name, label: label.into(), group: None, kind, help: None, changeable: true, creatable: true }
    }

    /// Drawn with the fields around it in a fieldset named `legend`.
    pub fn group(mut self, legend: &'static str) -> Self {
        self.group = Some(legend);
        self
    }

    pub fn help(mut self, help: &'static str) -> Self {
        self.help = Some(help);
        self
    }

    /// Set once, at creation.
    pub fn fixed_after_creation(mut self) -> Self {
        self.changeable = false;
        self
    }

    /// Offered only by a change, not at creation.
    pub fn change_only(mut self) -> Self {
        self.creatable = false;
        self
    }

    /// Whether a form for a creation (`creating`), or for a change, takes it.
    fn taken(&self, creating: bool) -> bool {
        if creating { self.creatable } else { self.changeable }
    }
}

/// Splits a list typed into one box: commas, spaces and line breaks separate its items.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n', '\r', '\t', ';']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The lines of a box, trimmed, without blank ones.
pub fn lines(raw: &str) -> Vec<String> {
    raw.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// The API's body for `fields` from a submitted form: for a creation (`creating`), or a change.
pub fn to_json(fields: &[Field], form: &FormData, creating: bool) -> Value {
    let mut body = Map::new();
    for f in fields.iter().filter(|f| f.taken(creating)) {
        let value = form.get(f.name).unwrap_or_default();
        let blank = || if creating { None } else { Some(Value::Null) };
        let json = match &f.kind {
            Kind::Text => Some(Value::String(value.to_owned())),
            Kind::Optional | Kind::Reply | Kind::Choice { .. } if value.is_empty() => blank(),
            Kind::Optional | Kind::Reply | Kind::Choice { .. } => Some(Value::String(value.to_owned())),
            Kind::Secret if value.is_empty() => None,
            Kind::Secret => Some(Value::String(value.to_owned())),
            Kind::List => {
                let items: Vec<Value> = form.all(f.name).into_iter().flat_map(split_list).map(Value::String).collect();
                if items.is_empty() { blank() } else { Some(Value::Array(items)) }
            }
            Kind::Checks(_) => {
                Some(Value::Array(form.all(f.name).into_iter().map(|v| Value::String(v.to_owned())).collect()))
            }
            Kind::Flag => Some(Value::Bool(form.get(f.name).is_some())),
            Kind::Fixed(v) => creating.then(|| Value::String((*v).to_owned())),
            Kind::Count if value.is_empty() => None,
            Kind::Count => Some(value.parse::<u64>().map_or_else(|_| Value::String(value.to_owned()), Value::from)),
            Kind::Time if value.is_empty() => None,
            Kind::Time => Some(Value::String(value.to_owned())),
            Kind::Lines { .. } => Some(Value::Array(lines(value).into_iter().map(Value::String).collect())),
        };
        if let Some(json) = json {
            body.insert(f.name.to_owned(), json);
        }
    }
    Value::Object(body)
}

/// What a form shows in its inputs: per field, its values as text.
#[derive(Debug, Clone, Default)]
pub struct Values(HashMap<String, Vec<String>>);

impl Values {
    /// The values a form was sent with.
    pub fn sent(form: &FormData) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in &form.0 {
            map.entry(k.clone()).or_default().push(v.clone());
        }
        Self(map)
    }

    /// The values of an item as the API shows it.
    pub fn of(item: &Value) -> Self {
        let mut map = HashMap::new();
        if let Value::Object(fields) = item {
            for (k, v) in fields {
                let texts = match v {
                    Value::Null => vec![],
                    Value::Bool(true) => vec!["on".to_owned()],
                    Value::Bool(false) => vec![],
                    Value::Array(items) => items.iter().map(text).collect(),
                    other => vec![text(other)],
                };
                map.insert(k.clone(), texts);
            }
        }
        Self(map)
    }

    fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    fn first(&self, name: &str) -> &str {
        self.all(name).first().map_or("", String::as_str)
    }

    fn joined(&self, name: &str) -> String {
        self.all(name).join(", ")
    }
}

/// A JSON value as a person reads it.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The API's refusal of a form, sorted: messages for named fields, and the rest.
#[derive(Debug, Clone, Default)]
pub struct Errors {
    pub fields: HashMap<String, Vec<String>>,
    pub general: Vec<String>,
}

impl Errors {
    /// Sorts `e` over `fields`: a field error goes to the field its path starts with; an error
    /// whose code names a field (such as `e164`) goes to that field; anything else is general.
    /// `place` may name the field of a path first (a body's nested field drawn as a field of its own).
    pub fn from_api(e: &ApiError, fields: &[Field], place: impl Fn(&str) -> Option<String>) -> Self {
        let mut out = Self::default();
        let known = |name: &str| fields.iter().any(|f| f.name == name);
        let item_of = |name: &str| {
            fields.iter().find(|f| f.name == name).and_then(|f| match f.kind {
                Kind::Lines { item } => Some(item),
                _ => None,
            })
        };
        for fe in e.field_errors() {
            let top =
                place(&fe.field).unwrap_or_else(|| fe.field.split(['[', '.']).next().unwrap_or_default().to_owned());
            let entry = fe
                .field
                .strip_prefix(top.as_str())
                .and_then(|rest| rest.strip_prefix('[')?.split_once(']')?.0.parse::<usize>().ok());
            if let (Some(item), Some(i)) = (item_of(&top), entry) {
                out.fields.entry(top).or_default().push(format!("{item} {}: {}", i + 1, fe.message));
            } else if known(&top) {
                out.fields.entry(top).or_default().push(fe.message.clone());
            } else {
                out.general.push(format!("{}: {}", fe.field, fe.message));
            }
        }
        if e.field_errors().is_empty() {
            if known(e.code()) {
                out.fields.entry(e.code().to_owned()).or_default().push(e.detail().to_owned());
            } else {
                out.general.push(e.detail().to_owned());
            }
        } else if !out.general.is_empty() {
            out.general.insert(0, e.detail().to_owned());
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }
}

/// A form posting to `action`, its fields drawn with `values` and `errors`; `creating` draws every
/// field, a change only those it may change (the others as text).
pub struct Form<'a> {
    pub id: &'a str,
    pub action: &'a str,
    pub fields: &'a [Field],
    pub values: &'a Values,
    pub errors: &'a Errors,
    pub creating: bool,
    pub submit: &'a str,
    pub csrf: Markup,
}

impl Form<'_> {
    pub fn render(&self) -> Markup {
        let summary = format!("{}-errors", self.id);
        html! {
            form.fields method="post" action=(self.action) id=(self.id)
                 aria-describedby=[(!self.errors.is_empty()).then_some(summary.as_str())] {
                (self.csrf)
                @if !self.errors.is_empty() {
                    div.errors id=(summary) role="alert" {
                        p { "Not saved: " (self.errors.general.first().map_or("see the fields marked below.", String::as_str)) }
                        @if self.errors.general.len() > 1 {
                            ul { @for g in &self.errors.general[1..] { li { (g) } } }
                        }
                    }
                }
                @for chunk in self.fields.chunk_by(|a, b| a.group.is_some() && a.group == b.group) {
                    @if let Some(legend) = chunk.first().and_then(|f| f.group) {
                        fieldset.group {
                            legend { (legend) }
                            @for f in chunk { (self.field_or_value(f)) }
                        }
                    } @else {
                        @for f in chunk { (self.field_or_value(f)) }
                    }
                }
                button type="submit" { (self.submit) }
            }
        }
    }

    fn field_or_value(&self, f: &Field) -> Markup {
        if f.taken(self.creating) {
            return self.field(f);
        }
        if self.creating {
            return html! {};
        }
        html! {
            div.field {
                span.label { (f.label) }
                span.value { (self.values.joined(f.name)) }
            }
        }
    }

    fn field(&self, f: &Field) -> Markup {
        let id = format!("{}-{}", self.id, f.name);
        let help_id = format!("{id}-help");
        let error_id = format!("{id}-error");
        let errors = self.errors.fields.get(f.name);
        let described: Vec<&str> =
            [f.help.map(|_| help_id.as_str()), errors.map(|_| error_id.as_str())].into_iter().flatten().collect();
        let described = (!described.is_empty()).then(|| described.join(" "));
        let invalid = errors.map(|_| "true");
        let values = self.values;
        let input = match &f.kind {
            Kind::Fixed(v) => return html! { input type="hidden" name=(f.name) value=(v); },
            Kind::Text | Kind::Optional => html! {
                input type="text" id=(id) name=(f.name) value=(values.first(f.name))
                      aria-describedby=[described.as_deref()] aria-invalid=[invalid];
            },
            Kind::Count => html! {
                input type="number" min="0" id=(id) name=(f.name) value=(values.first(f.name))
                      aria-describedby=[described.as_deref()] aria-invalid=[invalid];
            },
            Kind::Time => html! {
                input type="time" id=(id) name=(f.name) value=(values.first(f.name))
                      aria-describedby=[described.as_deref()] aria-invalid=[invalid];
            },
            Kind::Secret => html! {
                input type="password" id=(id) name=(f.name) autocomplete="off"
                      aria-describedby=[described.as_deref()] aria-invalid=[invalid];
            },
            Kind::List => html! {
                input type="text" id=(id) name=(f.name) value=(values.joined(f.name))
                      aria-describedby=[described.as_deref()] aria-invalid=[invalid];
            },
            Kind::Lines { .. } => html! {
                textarea id=(id) name=(f.name) rows="4"
                         aria-describedby=[described.as_deref()] aria-invalid=[invalid] { (values.first(f.name)) }
            },
            Kind::Reply => html! {
                textarea id=(id) name=(f.name) rows="3" data-segments=""
                         aria-describedby=[described.as_deref()] aria-invalid=[invalid] { (values.first(f.name)) }
            },
            Kind::Flag => html! {
                input type="checkbox" id=(id) name=(f.name) checked[!values.first(f.name).is_empty()]
                      aria-describedby=[described.as_deref()] aria-invalid=[invalid];
            },
            Kind::Choice { options, blank } => html! {
                select id=(id) name=(f.name) aria-describedby=[described.as_deref()] aria-invalid=[invalid] {
                    @if let Some(b) = blank { option value="" { (b) } }
                    @for (value, label) in options {
                        option value=(value) selected[values.first(f.name) == value] { (label) }
                    }
                }
            },
            Kind::Checks(options) => {
                let chosen = values.all(f.name);
                return html! {
                    fieldset.field aria-describedby=[described.as_deref()] {
                        legend { (f.label) }
                        @if options.is_empty() { p.muted { "None yet." } }
                        @for (i, (value, label)) in options.iter().enumerate() {
                            @let cid = format!("{id}-{i}");
                            div.check {
                                input type="checkbox" id=(cid) name=(f.name) value=(value)
                                      checked[chosen.iter().any(|c| c == value)];
                                label for=(cid) { (label) }
                            }
                        }
                        (self.notes(f, &help_id, &error_id, errors))
                    }
                };
            }
        };
        html! {
            div.field {
                label for=(id) { (f.label) }
                (input)
                (self.notes(f, &help_id, &error_id, errors))
            }
        }
    }

    fn notes(&self, f: &Field, help_id: &str, error_id: &str, errors: Option<&Vec<String>>) -> Markup {
        html! {
            @if let Some(h) = f.help { p.help id=(help_id) { (h) } }
            @if let Some(errs) = errors {
                p.field-error id=(error_id) { @for (i, e) in errs.iter().enumerate() { @if i > 0 { " " } (e) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::FieldError;

    fn fields() -> Vec<Field> {
        vec![
            Field::new("e164", "Number", Kind::Text).fixed_after_creation(),
            Field::new("name", "Name", Kind::Text),
            Field::new("policy_id", "Policy", Kind::Choice { options: vec![], blank: Some("None") }),
            Field::new("destinations", "Destinations", Kind::List),
            Field::new("secret_key", "Secret", Kind::Secret),
            Field::new("kind", "Kind", Kind::Fixed("flowroute")),
        ]
    }

    #[test]
    fn a_form_becomes_the_api_body_for_a_creation_and_for_a_change() {
        let form = FormData::parse(b"e164=%2B12025550100&name=Main&policy_id=&destinations=101%2C+102&secret_key=");
        let created = to_json(&fields(), &form, true);
        assert_eq!(
            created,
            serde_json::json!({"e164": "+12025550100", "name": "Main", "destinations": ["101", "102"], "kind": "flowroute"})
        );
        let changed = to_json(&fields(), &form, false);
        assert_eq!(changed, serde_json::json!({"name": "Main", "policy_id": null, "destinations": ["101", "102"]}));
    }

    #[test]
    fn refusals_land_next_to_the_field_they_name() {
        let e = ApiError::invalid(vec![
            FieldError { field: "destinations[1]".into(), message: "no such extension".into() },
            FieldError { field: "elsewhere".into(), message: "odd".into() },
        ]);
        let sorted = Errors::from_api(&e, &fields(), |_| None);
        assert_eq!(sorted.fields.get("destinations").map(Vec::len), Some(1));
        assert_eq!(sorted.general.len(), 2, "the detail, then the field it could not place: {sorted:?}");
        let coded = ApiError::new(actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "e164", "not held");
        assert_eq!(Errors::from_api(&coded, &fields(), |_| None).fields.get("e164").map(Vec::len), Some(1));
    }
}
