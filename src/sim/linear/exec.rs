//! A small GraphQL executor over a validated document.
//!
//! apollo-compiler validates; this walks the selection set (fields, aliases,
//! fragment spreads, inline fragments, `__typename`, variables,
//! `@include`/`@skip`) and asks a [`Resolver`] for each field. A resolver may
//! answer [`Val::Default`] for anything it does not model; the executor then
//! produces a type-correct default from the schema (nullable → null, list →
//! `[]`, non-null scalar → a plausible value, non-null object → recursively
//! defaulted), which is how any valid document — even an SDK's whole-type
//! fragments — gets an answer. Errors follow the specification's null
//! propagation all the way up: a failing non-null root field (every payload
//! of Linear's mutations is non-null, e.g. `IssuePayload!`) nulls the whole
//! `data`, and mutation fields, which run serially, stop at that field — the
//! aliases after it in a batch are not run, as graphql-js does.

use std::collections::HashSet;

use apollo_compiler::ast::{Type, Value as AstValue};
use apollo_compiler::executable::{Field, Fragment, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use serde_json::{Map, Value};

use super::gqlerror::GqlError;

/// JSON arguments of one field, variables substituted, defaults applied.
pub type Args = Map<String, Value>;

/// What a resolver returns for one field.
#[derive(Debug, Clone)]
pub enum Val<O> {
    /// A scalar or enum value, already in its JSON form.
    Leaf(Value),
    /// A modelled object, resolved field by field.
    Obj(O),
    /// A list of values.
    List(Vec<Val<O>>),
    /// Null.
    Null,
    /// Not modelled: answer a type-correct default.
    Default,
}

/// Resolves fields of modelled objects.
pub trait Resolver {
    /// The resolver's object handle.
    type Obj;
    /// Concrete GraphQL type name of an object.
    fn typename(&self, obj: &Self::Obj) -> String;
    /// Value of `field` (already known to exist on the type) for `obj`.
    fn resolve(
        &mut self,
        obj: &Self::Obj,
        field: &Field,
        args: &Args,
    ) -> Result<Val<Self::Obj>, GqlError>;
}

/// Marker: a null reached a non-null position; the parent must be nulled.
struct Propagate;

/// Grouped fields of one selection set: (response key, fields merged under it).
type Grouped<'d> = Vec<(String, Vec<&'d Node<Field>>)>;

/// Executes one operation of a validated document.
pub struct Executor<'a> {
    schema: &'a Valid<Schema>,
    doc: &'a Valid<ExecutableDocument>,
    vars: &'a Map<String, Value>,
    /// Errors collected during execution, in order.
    pub errors: Vec<GqlError>,
}

impl<'a> Executor<'a> {
    /// The schema this executor resolves against.
    pub fn schema(&self) -> &'a Valid<Schema> {
        self.schema
    }

    /// An executor for `doc` with coerced variable values.
    pub fn new(
        schema: &'a Valid<Schema>,
        doc: &'a Valid<ExecutableDocument>,
        vars: &'a Map<String, Value>,
    ) -> Self {
        Executor {
            schema,
            doc,
            vars,
            errors: Vec::new(),
        }
    }

    /// Run the root selection set. Returns `data`, `None` when a non-null
    /// root field failed (the null reached the root). With `serial` (the
    /// mutation root) fields run in order and execution stops at that field.
    pub fn execute_root<R: Resolver>(
        &mut self,
        r: &mut R,
        root: R::Obj,
        root_type: &str,
        set: &'a SelectionSet,
        serial: bool,
    ) -> Option<Value> {
        let grouped = self.collect(Some(root_type), &[set]);
        let mut data = Map::new();
        let mut nulled = false;
        for (key, fields) in grouped {
            let errs_before = self.errors.len();
            let mut path = vec![Value::String(key.clone())];
            let v = match self.field(r, &root, root_type, &fields, &mut path) {
                Ok(v) => v,
                Err(Propagate) => Value::Null,
            };
            let failed = self.errors.len() > errs_before && v.is_null();
            if failed && fields[0].ty().is_non_null() {
                nulled = true;
                if serial {
                    break;
                }
            }
            data.insert(key, v);
        }
        (!nulled).then_some(Value::Object(data))
    }

    fn field<R: Resolver>(
        &mut self,
        r: &mut R,
        obj: &R::Obj,
        type_name: &str,
        fields: &[&'a Node<Field>],
        path: &mut Vec<Value>,
    ) -> Result<Value, Propagate> {
        let first = fields[0];
        if first.name == "__typename" {
            return Ok(Value::String(type_name.to_string()));
        }
        let args = self.args(first);
        let ty = first.ty();
        match r.resolve(obj, first, &args) {
            Ok(v) => self.complete(r, ty, v, fields, path),
            Err(e) => {
                self.errors.push(e.at(path.clone()));
                if ty.is_non_null() && path.len() > 1 {
                    Err(Propagate)
                } else {
                    Ok(Value::Null)
                }
            }
        }
    }

    fn complete<R: Resolver>(
        &mut self,
        r: &mut R,
        ty: &Type,
        v: Val<R::Obj>,
        fields: &[&'a Node<Field>],
        path: &mut Vec<Value>,
    ) -> Result<Value, Propagate> {
        let out = self.complete_inner(r, ty, v, fields, path);
        match out {
            Err(Propagate) if !ty.is_non_null() => Ok(Value::Null),
            other => other,
        }
    }

    fn complete_inner<R: Resolver>(
        &mut self,
        r: &mut R,
        ty: &Type,
        v: Val<R::Obj>,
        fields: &[&'a Node<Field>],
        path: &mut Vec<Value>,
    ) -> Result<Value, Propagate> {
        match v {
            Val::Default => Ok(self.default_for(ty, fields)),
            Val::Null | Val::Leaf(Value::Null) => {
                if ty.is_non_null() {
                    self.errors.push(
                        GqlError::internal("Cannot return null for non-nullable field")
                            .at(path.clone()),
                    );
                    Err(Propagate)
                } else {
                    Ok(Value::Null)
                }
            }
            Val::List(items) => {
                let inner = ty.item_type().clone();
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    path.push(Value::from(i));
                    let c = self.complete(r, &inner, item, fields, path);
                    path.pop();
                    out.push(c?);
                }
                Ok(Value::Array(out))
            }
            Val::Leaf(j) => Ok(j),
            Val::Obj(o) => {
                let tn = r.typename(&o);
                let sets: Vec<&'a SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
                let grouped = self.collect(Some(&tn), &sets);
                let mut map = Map::new();
                for (key, fs) in grouped {
                    path.push(Value::String(key.clone()));
                    let v = self.field(r, &o, &tn, &fs, path);
                    path.pop();
                    map.insert(key, v?);
                }
                Ok(Value::Object(map))
            }
        }
    }

    /// The type-correct default for an unmodelled field.
    pub fn default_for(&self, ty: &Type, fields: &[&'a Node<Field>]) -> Value {
        match ty {
            Type::Named(_) | Type::List(_) => Value::Null,
            Type::NonNullList(_) => Value::Array(Vec::new()),
            Type::NonNullNamed(name) => match self.schema.types.get(name.as_str()) {
                Some(ExtendedType::Scalar(_)) => default_scalar(name.as_str()),
                Some(ExtendedType::Enum(e)) => e
                    .values
                    .keys()
                    .next()
                    .map(|k| Value::String(k.to_string()))
                    .unwrap_or(Value::Null),
                Some(ExtendedType::Object(_)) => self.default_object(name.as_str(), fields),
                Some(ExtendedType::Interface(_)) | Some(ExtendedType::Union(_)) => {
                    let concrete = self
                        .first_concrete(name.as_str())
                        .unwrap_or_else(|| name.to_string());
                    self.default_object(&concrete, fields)
                }
                Some(ExtendedType::InputObject(_)) | None => Value::Null,
            },
        }
    }

    fn default_object(&self, type_name: &str, fields: &[&'a Node<Field>]) -> Value {
        let sets: Vec<&'a SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
        let mut map = Map::new();
        for (key, fs) in self.collect(Some(type_name), &sets) {
            let v = if fs[0].name == "__typename" {
                Value::String(type_name.to_string())
            } else {
                self.default_for(fs[0].ty(), &fs)
            };
            map.insert(key, v);
        }
        Value::Object(map)
    }

    fn first_concrete(&self, abstract_name: &str) -> Option<String> {
        match self.schema.types.get(abstract_name)? {
            ExtendedType::Union(u) => u.members.iter().next().map(|m| m.name.to_string()),
            ExtendedType::Interface(_) => self
                .schema
                .types
                .iter()
                .find(|(_, t)| matches!(t, ExtendedType::Object(o) if o.implements_interfaces.iter().any(|i| i.name == abstract_name)))
                .map(|(n, _)| n.to_string()),
            _ => None,
        }
    }

    /// Group the fields selected on `concrete` (or on any type, when `None`,
    /// as the complexity estimate needs) by response key.
    pub fn collect(&self, concrete: Option<&str>, sets: &[&'a SelectionSet]) -> Grouped<'a> {
        let mut out: Grouped<'a> = Vec::new();
        let mut seen = HashSet::new();
        for s in sets {
            self.collect_into(concrete, s, &mut out, &mut seen);
        }
        out
    }

    fn collect_into(
        &self,
        concrete: Option<&str>,
        set: &'a SelectionSet,
        out: &mut Grouped<'a>,
        seen: &mut HashSet<String>,
    ) {
        for sel in &set.selections {
            if !self.included(sel.directives()) {
                continue;
            }
            match sel {
                Selection::Field(f) => {
                    let key = f.response_key().to_string();
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, v)) => v.push(f),
                        None => out.push((key, vec![f])),
                    }
                }
                Selection::FragmentSpread(s) => {
                    let Some(frag) = self.doc.fragments.get(&s.fragment_name) else {
                        continue;
                    };
                    if !seen.insert(s.fragment_name.to_string())
                        || !self.applies(concrete, frag.type_condition().as_str())
                    {
                        continue;
                    }
                    let frag: &'a Node<Fragment> = frag;
                    self.collect_into(concrete, &frag.selection_set, out, seen);
                }
                Selection::InlineFragment(i) => {
                    if let Some(tc) = &i.type_condition
                        && !self.applies(concrete, tc.as_str())
                    {
                        continue;
                    }
                    self.collect_into(concrete, &i.selection_set, out, seen);
                }
            }
        }
    }

    fn applies(&self, concrete: Option<&str>, condition: &str) -> bool {
        match concrete {
            None => true,
            Some(c) => c == condition || self.schema.is_subtype(condition, c),
        }
    }

    fn included(&self, dirs: &apollo_compiler::executable::DirectiveList) -> bool {
        let flag = |name: &str| {
            dirs.get(name)
                .and_then(|d| d.specified_argument_by_name("if"))
                .map(|v| self.value(v).as_bool().unwrap_or(false))
        };
        !flag("skip").unwrap_or(false) && flag("include").unwrap_or(true)
    }

    /// A field's arguments as JSON, defaults from the schema filled in.
    pub fn args(&self, f: &Field) -> Args {
        let mut out = Map::new();
        for def in &f.definition.arguments {
            if let Some(d) = &def.default_value {
                out.insert(def.name.to_string(), self.value(d));
            }
        }
        for a in &f.arguments {
            if let AstValue::Variable(v) = a.value.as_ref()
                && !self.vars.contains_key(v.as_str())
            {
                continue;
            }
            out.insert(a.name.to_string(), self.value(&a.value));
        }
        out
    }

    /// An AST value as JSON with variables substituted.
    pub fn value(&self, v: &AstValue) -> Value {
        match v {
            AstValue::Null => Value::Null,
            AstValue::Enum(n) => Value::String(n.to_string()),
            AstValue::Variable(n) => self.vars.get(n.as_str()).cloned().unwrap_or(Value::Null),
            AstValue::String(s) => Value::String(s.clone()),
            AstValue::Float(f) => f
                .try_to_f64()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            AstValue::Int(i) => i
                .as_str()
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::Null),
            AstValue::Boolean(b) => Value::Bool(*b),
            AstValue::List(items) => Value::Array(items.iter().map(|i| self.value(i)).collect()),
            AstValue::Object(fields) => {
                let mut m = Map::new();
                for (k, v) in fields {
                    if let AstValue::Variable(n) = v.as_ref()
                        && !self.vars.contains_key(n.as_str())
                    {
                        continue;
                    }
                    m.insert(k.to_string(), self.value(v));
                }
                Value::Object(m)
            }
        }
    }
}

/// A plausible non-null value for a scalar the simulator does not model.
pub fn default_scalar(name: &str) -> Value {
    match name {
        "String" => Value::String(String::new()),
        "Int" => Value::from(0),
        "Float" => Value::from(0.0),
        "Boolean" => Value::Bool(false),
        "ID" | "UUID" => Value::String(uuid::Uuid::nil().to_string()),
        "DateTime" | "DateTimeOrDuration" => Value::String("1970-01-01T00:00:00.000Z".into()),
        "TimelessDate" | "TimelessDateOrDuration" => Value::String("1970-01-01".into()),
        "Duration" => Value::String("PT0S".into()),
        "JSON" | "JSONObject" => Value::Object(Map::new()),
        _ => Value::String(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::linear::ratelimit::Bucket;
    use crate::sim::linear::resolve::{Obj, RateInfo, Sim};
    use crate::sim::linear::seed::default_store;
    use crate::sim::linear::store::Store;
    use serde_json::json;

    /// Execute `q` against `store`; `data` and the errors.
    fn run_on(store: &mut Store, q: &str, vars: Value) -> (Option<Value>, Vec<GqlError>) {
        let schema = crate::sim::linear::schema::schema().unwrap();
        let doc = ExecutableDocument::parse_and_validate(schema, q, "q.graphql").unwrap();
        let vars = vars.as_object().cloned().unwrap_or_default();
        let op = doc.operations.get(None).unwrap();
        let mut b = Bucket::new(10);
        let rate = RateInfo {
            requests: b.view(),
            complexity: b.view(),
            cost: 1,
        };
        let mut sim = Sim {
            store,
            rate,
            caller: crate::sim::linear::engine::CallerKind::User,
            attributed: Vec::new(),
        };
        let mut ex = Executor::new(schema, &doc, &vars);
        let serial = op.operation_type == apollo_compiler::executable::OperationType::Mutation;
        let root = if serial { Obj::Mutation } else { Obj::Query };
        let root_type = if serial { "Mutation" } else { "Query" };
        let data = ex.execute_root(&mut sim, root, root_type, &op.selection_set, serial);
        (data, ex.errors)
    }

    fn run(q: &str, vars: Value) -> (Option<Value>, Vec<GqlError>) {
        run_on(&mut default_store(), q, vars)
    }

    #[test]
    fn aliases_fragments_typename_and_directives() {
        let q = "query($no: Boolean!) { me: viewer { __typename ...U name @skip(if: $no) email @include(if: $no) } } fragment U on User { id isMe }";
        let (data, errors) = run(q, json!({"no": true}));
        assert!(errors.is_empty());
        let me = &data.unwrap()["me"];
        assert_eq!(me["__typename"], "User");
        assert_eq!(me["isMe"], true);
        assert!(me.get("name").is_none());
        assert_eq!(me["email"], "viewer@example.com");
    }

    #[test]
    fn unmodelled_fields_get_type_correct_defaults() {
        let q = "{ viewer { timezone avatarUrl createdIssueCount teamMemberships { nodes { id } pageInfo { hasNextPage } } } }";
        let (data, errors) = run(q, json!({}));
        assert!(errors.is_empty(), "{errors:?}");
        let v = &data.unwrap()["viewer"];
        assert_eq!(v["avatarUrl"], Value::Null);
        assert_eq!(v["createdIssueCount"], json!(0));
        assert_eq!(
            v["teamMemberships"],
            json!({"nodes": [], "pageInfo": {"hasNextPage": false}})
        );
    }

    #[test]
    fn a_failing_non_null_root_field_nulls_data() {
        // `issue(id:)` is `Issue!`: its null reaches the root.
        let (data, errors) = run(
            "{ a: issue(id: \"nope\") { id } b: viewer { id } }",
            json!({}),
        );
        assert!(data.is_none());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, Some(vec![json!("a")]));
    }

    #[test]
    fn serial_mutations_stop_at_the_first_failure() {
        let q = "mutation { a: issueLabelCreate(input: {name: \"X\"}) { success } \
                 b: issueLabelCreate(input: {name: \"\"}) { success } \
                 c: issueLabelCreate(input: {name: \"Y\"}) { success } }";
        let mut store = default_store();
        let before = store.labels.len();
        let (data, errors) = run_on(&mut store, q, json!({}));
        assert!(data.is_none(), "the non-null payload's failure nulls data");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, Some(vec![json!("b")]));
        assert_eq!(store.labels.len(), before + 1, "a ran, c did not");
        assert!(store.labels.iter().any(|l| l.name == "X"));
        assert!(!store.labels.iter().any(|l| l.name == "Y"));
    }
}
