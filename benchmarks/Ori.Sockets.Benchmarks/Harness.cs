using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Connections;
using Ori.Sockets.Hosting;
using Ori.Sockets.Routing;

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
        services.AddOriSockets(o => o.OutboundQueueLimit = 64 * 1024 * 1024).AddSocketRouters();
        _services = services.BuildServiceProvider();
        _scope = _services.CreateScope();
        Runtime = _services.GetRequiredService<SocketRuntime>();
        Dispatcher = _services.GetServices<ISocketDispatcher>().Single();
        Hub = _services.GetRequiredService<SocketHub>();
    }

    public SocketRuntime Runtime { get; }

    public ISocketDispatcher Dispatcher { get; }

    public SocketHub Hub { get; }

    public SocketConnection NewConnection(string id) =>
        new(Runtime, id, new DefaultHttpContext { RequestServices = _scope.ServiceProvider }, Stream.Null, null);

    public void Dispose()
    {
        _scope.Dispose();
        _services.Dispose();
    }
}
