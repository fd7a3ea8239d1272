//! `bulwark-localnet`: a local Solana JSON-RPC node. An embedded bank runs Bulwark natively
//! beside the real SPL Token program, and serves the JSON-RPC methods that solana-rpc-client's
//! `RpcClient`, the Bulwark SDK, CLI, migrations and keeper use. Slots and the cluster clock
//! advance in real time; `bulwark_warpClock` moves them forward for tests.

pub mod node;
pub mod rpc;

use std::net::SocketAddr;
use std::sync::Arc;

use jsonrpsee::server::{Server, ServerHandle};

pub use node::{Node, NodeConfig};

/// A running node and its JSON-RPC server.
pub struct Localnet {
    pub addr: SocketAddr,
    pub node: Arc<Node>,
    handle: ServerHandle,
}

impl Localnet {
    /// Start a bank and serve it on `addr` (port 0 picks a free one).
    pub async fn start(addr: SocketAddr, config: NodeConfig) -> anyhow::Result<Localnet> {
        let node = Node::start(config).await;
        let server = Server::builder().build(addr).await?;
        let addr = server.local_addr()?;
        let handle = server.start(rpc::module(node.clone()));
        Ok(Localnet { addr, node, handle })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting requests and wait for the server to finish.
    pub async fn stop(self) {
        if self.handle.stop().is_ok() {
            self.handle.stopped().await;
        }
    }
}
