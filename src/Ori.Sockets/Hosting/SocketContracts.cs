namespace Ori.Sockets.Hosting;

/// <summary>The application's generated contracts.</summary>
/// <param name="TypeScript">The TypeScript module of its messages, routes and pushes.</param>
/// <param name="AsyncApi">Its AsyncAPI 3.0 document.</param>
internal sealed record SocketContracts(string TypeScript, string AsyncApi);
