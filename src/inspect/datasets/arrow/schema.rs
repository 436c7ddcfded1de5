//! An Arrow schema as far as the inspection needs it: each field's name, type and children,
//! flattened in the pre-order that record batches list their nodes and buffers in, with the
//! role of every buffer (validity, offsets, values, views, variadic data).

use super::flatbuf::{FlatError, Table};

/// Most fields in a schema, children included (shared children count each time).
pub const MAX_FIELDS: usize = 10_000;
/// Deepest nesting of fields.
pub const MAX_FIELD_DEPTH: usize = 64;

/// Arrow `Type` union tags (Schema.fbs).
pub mod ty {
    pub const NULL: u8 = 1;
    pub const BINARY: u8 = 4;
    pub const UTF8: u8 = 5;
    pub const LIST: u8 = 12;
    pub const STRUCT: u8 = 13;
    pub const UNION: u8 = 14;
    pub const FIXED_SIZE_BINARY: u8 = 15;
    pub const FIXED_SIZE_LIST: u8 = 16;
    pub const MAP: u8 = 17;
    pub const LARGE_BINARY: u8 = 19;
    pub const LARGE_UTF8: u8 = 20;
    pub const LARGE_LIST: u8 = 21;
    pub const RUN_END_ENCODED: u8 = 22;
    pub const BINARY_VIEW: u8 = 23;
    pub const UTF8_VIEW: u8 = 24;
    pub const LIST_VIEW: u8 = 25;
    pub const LARGE_LIST_VIEW: u8 = 26;
}

/// What a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Validity,
    /// i32 offsets (`false`) or i64 offsets (`true`).
    Offsets(bool),
    /// Variable-length bytes addressed by the offsets before it.
    Data,
    /// Fixed-width values of this many bytes (0: bits or unknown).
    Values(usize),
    /// 16-byte views (Utf8View, BinaryView).
    Views,
    /// The k-th data buffer of a view field.
    Variadic(usize),
    /// Union type ids, list-view sizes, and other buffers no value is named in.
    Other,
}

/// A field in pre-order.
#[derive(Debug, Clone)]
pub struct Node {
    /// Dotted path from the top-level field, made safe for a finding path.
    pub path: String,
    pub ty: u8,
    /// Parent node, for mapping a child element back to its row.
    pub parent: Option<usize>,
    /// FixedSizeList size or FixedSizeBinary width.
    pub width: usize,
    /// Dense union (a child element cannot be mapped to its parent without a search).
    pub dense: bool,
    /// Set for a dictionary-encoded field (its batches hold indices; values come in
    /// dictionary batches with this id).
    pub dict_id: Option<i64>,
}

/// A parsed schema.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Fields in pre-order (the record batch node order).
    pub nodes: Vec<Node>,
    /// For each dictionary id: the value field, as a schema of its own.
    pub dicts: Vec<(i64, Schema)>,
}

/// Why a schema could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("{0}")]
    Flat(#[from] FlatError),
    #[error("more than {MAX_FIELDS} fields")]
    TooMany,
    #[error("fields nested deeper than {MAX_FIELD_DEPTH}")]
    TooDeep,
}

fn clean(raw: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(raw)
        .chars()
        .map(|c| {
            if c.is_control() || c == '!' || c == '/' {
                '_'
            } else {
                c
            }
        })
        .take(128)
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// Read a `Schema` table.
pub fn parse(schema: &Table<'_>) -> Result<Schema, SchemaError> {
    let mut out = Schema::default();
    let mut count = 0usize;
    if let Some(fields) = schema.vector(1, 4)? {
        for i in 0..fields.len {
            let f = fields.table(i)?;
            walk(&f, None, "", 0, &mut count, &mut out)?;
        }
    }
    Ok(out)
}

fn walk(
    f: &Table<'_>,
    parent: Option<usize>,
    prefix: &str,
    depth: usize,
    count: &mut usize,
    out: &mut Schema,
) -> Result<(), SchemaError> {
    if depth > MAX_FIELD_DEPTH {
        return Err(SchemaError::TooDeep);
    }
    *count += 1;
    if *count > MAX_FIELDS {
        return Err(SchemaError::TooMany);
    }
    let name = clean(f.string(0)?.unwrap_or(b""));
    let path = if prefix.is_empty() {
        name
    } else {
        format!("{prefix}.{name}")
    };
    let ty = f.u8(2, 0)?;
    let t = f.table(3)?;
    let width = match (ty, &t) {
        (ty::FIXED_SIZE_LIST, Some(t)) | (ty::FIXED_SIZE_BINARY, Some(t)) => {
            usize::try_from(t.i32(0, 0)?).unwrap_or(0)
        }
        _ => 0,
    };
    let dense = ty == ty::UNION && t.as_ref().map(|t| t.i16(0, 0)).transpose()? == Some(1);
    let dict = f.table(4)?;
    let dict_id = dict.as_ref().map(|d| d.i64(0, 0)).transpose()?;
    if let Some(id) = dict_id {
        // the batches hold the indices; the value field (this field without its dictionary)
        // is what dictionary batches with this id carry
        let mut values = Schema::default();
        let mut c = *count;
        walk_value(f, &path, depth, &mut c, &mut values)?;
        *count = c;
        out.dicts.push((id, values));
        out.nodes.push(Node {
            path,
            ty,
            parent,
            width,
            dense,
            dict_id,
        });
        return Ok(());
    }
    let me = out.nodes.len();
    out.nodes.push(Node {
        path: path.clone(),
        ty,
        parent,
        width,
        dense,
        dict_id: None,
    });
    if let Some(children) = f.vector(5, 4)? {
        for i in 0..children.len {
            let c = children.table(i)?;
            walk(&c, Some(me), &path, depth + 1, count, out)?;
        }
    }
    Ok(())
}

/// The value field of a dictionary-encoded field: its type and children, as a top-level
/// field of the dictionary batches' schema.
fn walk_value(
    f: &Table<'_>,
    path: &str,
    depth: usize,
    count: &mut usize,
    out: &mut Schema,
) -> Result<(), SchemaError> {
    let ty = f.u8(2, 0)?;
    let t = f.table(3)?;
    let width = match (ty, &t) {
        (ty::FIXED_SIZE_LIST, Some(t)) | (ty::FIXED_SIZE_BINARY, Some(t)) => {
            usize::try_from(t.i32(0, 0)?).unwrap_or(0)
        }
        _ => 0,
    };
    let dense = ty == ty::UNION && t.as_ref().map(|t| t.i16(0, 0)).transpose()? == Some(1);
    out.nodes.push(Node {
        path: path.to_string(),
        ty,
        parent: None,
        width,
        dense,
        dict_id: None,
    });
    if let Some(children) = f.vector(5, 4)? {
        for i in 0..children.len {
            let c = children.table(i)?;
            walk(&c, Some(0), path, depth + 1, count, out)?;
        }
    }
    Ok(())
}

/// The roles of each node's buffers, in order; `variadic` gives the data-buffer count of
/// each view field in turn; `v5`: the metadata version has unions without validity.
///
/// Stops once it has more than `limit` roles (the batch's buffer count): such a batch does
/// not match its schema anyway.
pub fn buffer_roles(s: &Schema, variadic: &[i64], v5: bool, limit: usize) -> Vec<(usize, Role)> {
    let mut out = Vec::new();
    let mut views = variadic.iter();
    for (i, n) in s.nodes.iter().enumerate() {
        if out.len() > limit {
            break;
        }
        let mut push = |r: Role| out.push((i, r));
        if n.dict_id.is_some() {
            push(Role::Validity);
            push(Role::Values(0));
            continue;
        }
        match n.ty {
            ty::NULL | ty::RUN_END_ENCODED => {}
            ty::BINARY | ty::UTF8 => {
                push(Role::Validity);
                push(Role::Offsets(false));
                push(Role::Data);
            }
            ty::LARGE_BINARY | ty::LARGE_UTF8 => {
                push(Role::Validity);
                push(Role::Offsets(true));
                push(Role::Data);
            }
            ty::BINARY_VIEW | ty::UTF8_VIEW => {
                push(Role::Validity);
                push(Role::Views);
                let k = views
                    .next()
                    .copied()
                    .unwrap_or(0)
                    .clamp(0, limit as i64 + 1) as usize;
                for j in 0..k {
                    push(Role::Variadic(j));
                }
            }
            ty::LIST | ty::MAP => {
                push(Role::Validity);
                push(Role::Offsets(false));
            }
            ty::LARGE_LIST => {
                push(Role::Validity);
                push(Role::Offsets(true));
            }
            ty::LIST_VIEW | ty::LARGE_LIST_VIEW => {
                push(Role::Validity);
                push(Role::Other);
                push(Role::Other);
            }
            ty::STRUCT | ty::FIXED_SIZE_LIST => push(Role::Validity),
            ty::UNION => {
                if !v5 {
                    push(Role::Validity);
                }
                push(Role::Other);
                if n.dense {
                    push(Role::Other);
                }
            }
            ty::FIXED_SIZE_BINARY => {
                push(Role::Validity);
                push(Role::Values(n.width));
            }
            _ => {
                push(Role::Validity);
                push(Role::Values(0));
            }
        }
    }
    out
}
