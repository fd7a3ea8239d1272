//! `bulwark-localnet`: a local Solana JSON-RPC node. An embedded bank runs Bulwark natively
//! beside the real SPL Token program, and serves the JSON-RPC methods that solana-rpc-client's
//! `RpcClient`, the Bulwark SDK, CLI, migrations and keeper use. Slots and the cluster clock
//! advance in real time; `bulwark_warpClock` moves them forward for tests.

pub mod node;
pub mod pubsub;
pub mod rpc;

use std::net::SocketAddr;
use std::sync::Arc;

use jsonrpsee::server::{Server, ServerHandle};

pub use node::{Node, NodeConfig};

/// A running node and its servers.
pub struct Localnet {
    /// JSON-RPC over HTTP, and WebSocket subscriptions on the same port.
    pub addr: SocketAddr,
    /// WebSocket subscriptions on their own port, as a validator serves them (its RPC port + 1).
    pub ws_addr: SocketAddr,
    pub node: Arc<Node>,
    handles: Vec<ServerHandle>,
}

impl Localnet {
    /// Start a bank and serve it on `addr` (port 0 picks a free one), with WebSockets also on a
    /// free port.
    pub async fn start(addr: SocketAddr, config: NodeConfig) -> anyhow::Result<Localnet> {
        Self::start_with_ws(addr, SocketAddr::new(addr.ip(), 0), config).await
    }

    /// Start a bank and serve JSON-RPC and WebSockets on `addr`, and WebSockets on `ws_addr`.
    pub async fn start_with_ws(addr: SocketAddr, ws_addr: SocketAddr, config: NodeConfig) -> anyhow::Result<Localnet> {
        let rpc = Server::builder().build(addr).await.map_err(|e| bind_error("JSON-RPC", addr, e))?;
        let ws = Server::builder().build(ws_addr).await.map_err(|e| bind_error("WebSocket", ws_addr, e))?;
        let (addr, ws_addr) = (rpc.local_addr()?, ws.local_addr()?);
        let node = Node::start(config).await;
        let module = rpc::module(node.clone());
        let handles = vec![rpc.start(module.clone()), ws.start(module)];
        Ok(Localnet { addr, ws_addr, node, handles })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// Stop accepting requests and wait for the servers to finish.
    pub async fn stop(self) {
        for handle in self.handles {
            if handle.stop().is_ok() {
                handle.stopped().await;
            }
        }
    }
}

/// A port in use is the usual cause; say which address and how to pick another.
fn bind_error(what: &str, addr: SocketAddr, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!(
            "cannot serve {what} on {addr}: the address is already in use (another bulwark-localnet or validator?). \
             Stop it, or pick other ports with --port and --ws-port"
        )
    } else {
        anyhow::anyhow!("cannot serve {what} on {addr}: {e}")
    }
}
