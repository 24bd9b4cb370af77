using Microsoft.Extensions.Hosting;

namespace Ori.Sockets.Hosting;

/// <summary>Starts and stops the provider, runs the idle sweeper, and closes every socket with 1001 on shutdown.</summary>
internal sealed class OriSocketsHostedService(SocketRuntime runtime, IHostApplicationLifetime lifetime) : IHostedService
{
    private CancellationTokenRegistration _stopping;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await runtime.Provider.StartAsync(cancellationToken).ConfigureAwait(false);
        runtime.StartIdleSweeper();

        // ApplicationStopping fires before the server stops taking requests and waiting for open
        // ones: closing the sockets then lets their requests end, so the host stops in time.
        _stopping = lifetime.ApplicationStopping.Register(static state => _ = ((SocketRuntime)state!).ShutdownAsync(CancellationToken.None), runtime);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.DisposeAsync().ConfigureAwait(false);
        await runtime.ShutdownAsync(cancellationToken).ConfigureAwait(false);
        await runtime.Provider.StopAsync(cancellationToken).ConfigureAwait(false);
    }
}
