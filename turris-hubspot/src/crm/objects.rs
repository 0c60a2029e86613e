//! Single-record calls on companies and contacts: get, create, update, archive, list.
