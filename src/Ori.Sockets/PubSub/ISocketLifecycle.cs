namespace Ori.Sockets;

/// <summary>What the host calls on the provider: start before the first connection, stop after the last.</summary>
public interface ISocketLifecycle
{
    /// <summary>Starts the provider (connects to a backplane, for example).</summary>
    /// <param name="cancellationToken">Canceled when start-up is abandoned.</param>
    /// <returns>Completes when the provider is ready.</returns>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Stops the provider and releases what it holds.</summary>
    /// <param name="cancellationToken">Canceled when the shutdown time limit passes.</param>
    /// <returns>Completes when the provider has stopped.</returns>
    Task StopAsync(CancellationToken cancellationToken);
}
