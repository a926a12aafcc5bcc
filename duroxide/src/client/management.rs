//! Management: instance trees, cascading delete, pruning of old executions, bulk forms.

use std::collections::HashSet;

use futures::stream::{self, StreamExt};

use super::{Client, OrchestrationStatus};
use crate::error::ClientError;
use crate::history::EventKind;
use crate::providers::InstanceInfo;

/// An instance and the sub-orchestrations it started, recursively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceTree {
    /// The instance id.
    pub instance: String,
    /// Its status.
    pub status: OrchestrationStatus,
    /// Its sub-orchestrations that still exist.
    pub children: Vec<InstanceTree>,
}

impl InstanceTree {
    /// Every instance id in the tree, parents before children.
    pub fn all_instances(&self) -> Vec<String> {
        let mut out = vec![self.instance.clone()];
        for child in &self.children {
            out.extend(child.all_instances());
        }
        out
    }
}

/// How many instances a bulk operation reads or deletes at once. Each one waits for the
/// store (a read settling, a delete's commit); overlapping them lets a store that groups
/// commits, like sled's, serve many with one flush instead of one flush each.
const BULK_CONCURRENCY: usize = 32;

/// Which instances a bulk operation applies to. All conditions must hold; the default
/// selects every root instance (sub-orchestrations go with their root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFilter {
    /// Only these instance ids (sub-orchestrations may be named here directly).
    pub instance_ids: Option<Vec<String>>,
    /// Only instances that finished before this time.
    pub finished_before: Option<std::time::SystemTime>,
    /// At most this many instances.
    pub limit: Option<usize>,
}

impl Client {
    // ---- management --------------------------------------------------------------------

    /// The instance and its sub-orchestrations (recursively): what
    /// [`delete_instance`](Self::delete_instance) would remove.
    pub async fn get_instance_tree(
        &self,
        instance: impl AsRef<str>,
    ) -> Result<InstanceTree, ClientError> {
        let mut seen = HashSet::new();
        self.tree(instance.as_ref().to_string(), &mut seen).await
    }

    fn tree<'a>(
        &'a self,
        instance: String,
        seen: &'a mut HashSet<String>,
    ) -> futures::future::BoxFuture<'a, Result<InstanceTree, ClientError>> {
        Box::pin(async move {
            seen.insert(instance.clone());
            let status = self.get_orchestration_status(&instance).await?;
            let mut children = Vec::new();
            for execution in self.store.list_executions(&instance).await? {
                for event in self.store.read_history(&instance, execution).await? {
                    if let EventKind::SubOrchestrationScheduled {
                        instance: child, ..
                    } = event.kind
                    {
                        let is_child = matches!(
                            self.store.get_instance(&child).await?,
                            Some(InstanceInfo { parent: Some(ref p), .. }) if p.instance == instance
                        );
                        if is_child && !seen.contains(&child) {
                            children.push(self.tree(child, seen).await?);
                        }
                    }
                }
            }
            Ok(InstanceTree {
                instance,
                status,
                children,
            })
        })
    }

    /// Deletes an instance with all its executions and its sub-orchestrations (cascade).
    /// A running instance (or a running sub-orchestration of it) is deleted only with
    /// `force` (its running activities are told to stop); without it the call fails with
    /// [`ClientError::InstanceStillRunning`] and deletes nothing. Returns the ids deleted.
    pub async fn delete_instance(
        &self,
        instance: impl AsRef<str>,
        force: bool,
    ) -> Result<Vec<String>, ClientError> {
        let instance = instance.as_ref();
        if self.store.get_instance(instance).await?.is_none() {
            return Err(ClientError::InstanceNotFound {
                instance: instance.to_string(),
            });
        }
        let tree = self.get_instance_tree(instance).await?;
        let ids = tree.all_instances();
        if !force {
            for id in &ids {
                if let Some(info) = self.store.get_instance(id).await? {
                    if !info.status.is_terminal() {
                        return Err(ClientError::InstanceStillRunning {
                            instance: id.clone(),
                        });
                    }
                }
            }
        }
        // Children first, so a parent never points at a child that is already half gone.
        for id in ids.iter().rev() {
            self.store.delete_instance(id).await?;
        }
        Ok(ids)
    }

    /// Deletes the history of old executions (from `continue_as_new`), keeping the newest
    /// `keep_last` (at least one: the current execution is never pruned). Returns how many
    /// executions were removed.
    pub async fn prune_executions(
        &self,
        instance: impl AsRef<str>,
        keep_last: usize,
    ) -> Result<usize, ClientError> {
        let instance = instance.as_ref();
        let Some(info) = self.store.get_instance(instance).await? else {
            return Err(ClientError::InstanceNotFound {
                instance: instance.to_string(),
            });
        };
        let executions = self.store.list_executions(instance).await?;
        let keep = keep_last.max(1);
        let old: Vec<u64> = executions
            .iter()
            .copied()
            .filter(|&e| e != info.execution_id)
            .collect();
        let removable = old.len().saturating_sub(keep - 1);
        let prune: Vec<u64> = old.into_iter().take(removable).collect();
        self.store.delete_executions(instance, &prune).await?;
        Ok(prune.len())
    }

    /// The root instances (not sub-orchestrations) matching `filter`, sorted by id.
    async fn select_roots(
        &self,
        filter: &InstanceFilter,
        finished_only: bool,
    ) -> Result<Vec<InstanceInfo>, ClientError> {
        let ids = match &filter.instance_ids {
            Some(ids) => ids.clone(),
            None => self.store.list_instances().await?,
        };
        let cutoff = filter.finished_before.map(crate::clock::system_time_ms);
        let mut selected = Vec::new();
        // In order (so the result stays sorted), several reads in flight at once.
        let mut infos = stream::iter(ids)
            .map(|id| async move { self.store.get_instance(&id).await })
            .buffered(BULK_CONCURRENCY);
        while let Some(info) = infos.next().await {
            let Some(info) = info? else {
                continue;
            };
            if info.parent.is_some() && filter.instance_ids.is_none() {
                continue; // reached through its root
            }
            let finished = info.status.is_terminal();
            if finished_only && !finished {
                continue;
            }
            if let Some(cutoff) = cutoff {
                if !finished || info.updated_at_ms >= cutoff {
                    continue;
                }
            }
            selected.push(info);
            if filter.limit.is_some_and(|limit| selected.len() >= limit) {
                break;
            }
        }
        Ok(selected)
    }

    /// Deletes every *finished* instance matching `filter` (running ones are skipped), each
    /// with its sub-orchestrations. Returns the ids deleted.
    pub async fn delete_instance_bulk(
        &self,
        filter: InstanceFilter,
    ) -> Result<Vec<String>, ClientError> {
        let roots = self.select_roots(&filter, true).await?;
        // Every delete runs to its end (none is cut off half-way by another's error); the
        // first error, if any, is reported after.
        let results: Vec<_> = stream::iter(roots)
            .map(|info| async move { self.delete_instance(&info.instance, false).await })
            .buffered(BULK_CONCURRENCY)
            .collect()
            .await;
        let mut deleted = Vec::new();
        for result in results {
            match result {
                Ok(ids) => deleted.extend(ids),
                // A child still running keeps its tree; a concurrent delete already did it.
                Err(
                    ClientError::InstanceStillRunning { .. } | ClientError::InstanceNotFound { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// [`prune_executions`](Self::prune_executions) for every instance matching `filter`
    /// (running ones included: their current execution is never pruned). Returns how many
    /// executions were removed in all.
    pub async fn prune_executions_bulk(
        &self,
        filter: InstanceFilter,
        keep_last: usize,
    ) -> Result<usize, ClientError> {
        let roots = self.select_roots(&filter, false).await?;
        let results: Vec<_> = stream::iter(roots)
            .map(|info| async move { self.prune_executions(&info.instance, keep_last).await })
            .buffered(BULK_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().sum()
    }
}
