using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Ori.Sockets.Connections;

namespace Ori.Sockets.Benchmarks;

/// <summary>The runtime without Kestrel: a connection over Stream.Null, the generated dispatcher, the hub.</summary>
internal sealed class Harness : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly IServiceScope _scope;

    public Harness()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddOriSockets(o =>
        {
            o.OutboundQueueLimit = 64 * 1024 * 1024;
            o.OutboundBudget = 1024L * 1024 * 1024; // at least the queue limit (the options require it), and on, as by default
        }).AddSocketRouters();
        _services = services.BuildServiceProvider();
        _scope = _services.CreateScope();
        Provider = _services.GetRequiredService<ISocketProvider>();
        Dispatcher = _services.GetServices<ISocketDispatcher>().Single();
        Hub = _services.GetRequiredService<SocketHub>();
    }

    public ISocketProvider Provider { get; }

    /// <summary>The runtime's services.</summary>
    public IServiceProvider Services => _services;

    public ISocketDispatcher Dispatcher { get; }

    public SocketHub Hub { get; }

    /// <summary>A connection whose writer drains to Stream.Null.</summary>
    public static SocketConnection NewConnection(string id) =>
        new(id, Stream.Null, new ConnectionLimits(64 * 1024, 64 * 1024 * 1024, TimeSpan.FromSeconds(5)), TimeProvider.System, NullLogger.Instance, static () => { }, static _ => { });

    /// <summary>The invocation the message pipeline would use for <paramref name="connection"/>.</summary>
    public SocketInvocation NewInvocation(SocketConnection connection) =>
        new(new SocketContext(connection.Id, new DefaultHttpContext { RequestServices = _scope.ServiceProvider }, null, null, new Ori.Sockets.PubSub.DependencyBound(Provider, TimeSpan.FromSeconds(10)), connection.Closing), connection, 32, NullLogger.Instance);

    public void Dispose()
    {
        _scope.Dispose();
        _services.Dispose();
    }
}
